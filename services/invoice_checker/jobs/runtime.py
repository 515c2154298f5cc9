"""What every invoice checker job runs with: one typed context (settings, sessions, Redis), built
once per worker in arq's `on_startup` (never at import) and read back with `checker_jobs`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.settings import InvoiceCheckerSettings

CONTEXT_KEY = "checker_jobs"


@dataclass(frozen=True)
class CheckerJobs:
    settings: InvoiceCheckerSettings
    sessions: async_sessionmaker[AsyncSession]
    redis: ArqRedis

    def into(self, ctx: dict[str, Any]) -> dict[str, Any]:
        """Put this context where the jobs read it (arq's ctx dict)."""
        ctx[CONTEXT_KEY] = self
        return ctx


def checker_jobs(ctx: dict[str, Any]) -> CheckerJobs:
    jobs = ctx.get(CONTEXT_KEY)
    if not isinstance(jobs, CheckerJobs):
        raise RuntimeError("the worker's on_startup has not built the job context")
    return jobs


@asynccontextmanager
async def job_session(
    ctx: dict[str, Any],
) -> AsyncIterator[tuple[AsyncSession, InvoiceCheckerSettings]]:
    """A session whose work commits when the block ends without an error."""
    jobs = checker_jobs(ctx)
    async with jobs.sessions() as session, session.begin():
        yield session, jobs.settings


@asynccontextmanager
async def stepwise_session(
    ctx: dict[str, Any],
) -> AsyncIterator[tuple[AsyncSession, InvoiceCheckerSettings]]:
    """A session for a job that commits in steps itself (the Slack outbox: each message is
    sent in a transaction of its own); what it leaves uncommitted is rolled back."""
    jobs = checker_jobs(ctx)
    async with jobs.sessions() as session:
        yield session, jobs.settings


def local_today(ctx: dict[str, Any]) -> date:
    """Today in the schedule's time zone (the company's calendar, not the server's)."""
    return datetime.now(ZoneInfo(checker_jobs(ctx).settings.schedule_timezone)).date()
