"""Deleting what has outlived its use: old events, finished sync runs, dead sign-in sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.auth import Credential
from invoice_checker.store.syncs import Event, SyncRun


@dataclass(frozen=True)
class Removed:
    events: int
    sync_runs: int
    sessions: int


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def remove_old_rows(session: AsyncSession, *, older_than: datetime, now: datetime) -> Removed:
    """Events and finished sync runs from before `older_than`; browser sessions that expired or
    were revoked. Queued or running syncs and API tokens are never touched."""
    events = await session.execute(delete(Event).where(Event.timestamp < older_than))
    runs = await session.execute(
        delete(SyncRun).where(
            SyncRun.status.in_(("succeeded", "failed")), SyncRun.created_at < older_than
        )
    )
    sessions = await session.execute(
        delete(Credential).where(
            Credential.kind == "session",
            or_(Credential.expires_at < now, Credential.revoked_at.is_not(None)),
        )
    )
    return Removed(events=_count(events), sync_runs=_count(runs), sessions=_count(sessions))
