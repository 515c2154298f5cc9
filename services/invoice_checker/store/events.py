"""Writing the audit log (events): one row per sync, import or notification run."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.syncs import Event


async def record_event(
    session: AsyncSession,
    event_type: str,
    message: str,
    *,
    succeeded: bool = True,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event in the caller's transaction (so it commits with the work it describes)."""
    session.add(Event(event_type=event_type, succeeded=succeeded, message=message, details=details))
    await session.flush()
