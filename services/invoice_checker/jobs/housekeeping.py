"""Housekeeping: delete events and finished sync runs past the retention, and dead sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.jobs.runtime import job_session
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.events import record_event
from invoice_checker.store.housekeeping import remove_old_rows


async def clean_up(session: AsyncSession, settings: InvoiceCheckerSettings, now: datetime) -> str:
    removed = await remove_old_rows(
        session, older_than=now - timedelta(days=settings.retention_days), now=now
    )
    message = (
        f"Removed {removed.events} events and {removed.sync_runs} sync runs older than "
        f"{settings.retention_days} days, and {removed.sessions} expired or revoked sessions"
    )
    await record_event(session, "cleanup", message)
    return message


async def housekeeping_job(ctx: dict[str, Any]) -> str:
    async with job_session(ctx) as (session, settings):
        return await clean_up(session, settings, datetime.now(UTC))
