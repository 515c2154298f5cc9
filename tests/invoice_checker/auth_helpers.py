"""Bearer headers for people in given groups, made with the real credential store."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.auth import ensure_user, issue_credential


async def bearer(session: AsyncSession, email: str, *groups: str) -> dict[str, str]:
    user = await ensure_user(session, email, groups=list(groups))
    _, secret = await issue_credential(session, user, kind="api", name="tests")
    return {"Authorization": f"Bearer {secret}"}
