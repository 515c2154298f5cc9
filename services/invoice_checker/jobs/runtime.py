"""What every invoice checker job needs from the worker context: settings and a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.settings import InvoiceCheckerSettings


def job_settings(ctx: dict[str, Any]) -> InvoiceCheckerSettings:
    settings: InvoiceCheckerSettings = ctx["settings"]
    return settings


@asynccontextmanager
async def job_session(
    ctx: dict[str, Any],
) -> AsyncIterator[tuple[AsyncSession, InvoiceCheckerSettings]]:
    """A session whose work commits when the block ends without an error."""
    sessionmaker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    async with sessionmaker() as session, session.begin():
        yield session, job_settings(ctx)


@asynccontextmanager
async def stepwise_session(
    ctx: dict[str, Any],
) -> AsyncIterator[tuple[AsyncSession, InvoiceCheckerSettings]]:
    """A session for a job that commits in steps itself (the Slack outbox: each message is
    sent in a transaction of its own); what it leaves uncommitted is rolled back."""
    sessionmaker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    async with sessionmaker() as session:
        yield session, job_settings(ctx)


def local_today(ctx: dict[str, Any]) -> date:
    """Today in the schedule's time zone (the company's calendar, not the server's)."""
    return datetime.now(ZoneInfo(job_settings(ctx).schedule_timezone)).date()
