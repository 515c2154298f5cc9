"""The update queue (spec 4.6-4.8) on arq: a sync requested through the API (or the schedule) is
a `sync_runs` row committed first, then a `run_sync` job whose id is the run's, so a lost or
repeated enqueue is harmless; the sweeper re-enqueues runs left queued.

The original's pub/sub dropped requests with no listener, ran every request in every worker and
left a lone queued row pending forever (15.11); here a queued run is always picked up, and
concurrent hour syncs are safe because each day is written under its own lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.adapters.tenkfeet import TenkfeetClient, TenkfeetError
from invoice_checker.domain.date_ranges import InvalidRange
from invoice_checker.jobs import sync
from invoice_checker.jobs.queue import job
from invoice_checker.jobs.runtime import checker_jobs
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store import sync_runs
from invoice_checker.store.syncs import Event, SyncRun
from service_kit.queue import JobRequest, after_commit, enqueue

logger = logging.getLogger(__name__)

Sessionmaker = async_sessionmaker[AsyncSession]
Progress = Callable[[int, int], Awaitable[None]]

RUN_SYNC_JOB = "run_sync"
SYNC_JOB_TIMEOUT_SECONDS = 3 * 3600
STALE_QUEUED_AFTER = timedelta(minutes=2)
ABANDONED_RUNNING_AFTER = timedelta(seconds=SYNC_JOB_TIMEOUT_SECONDS * 2)
# A run 'running' this long with nobody holding its lock lost its process (the grace covers the
# moment between the CLI recording its run and taking the lock).
ORPHANED_AFTER = timedelta(seconds=30)
EXPECTED_FAILURES = (TenkfeetError, InvalidRange)


def tenkfeet_client(settings: InvoiceCheckerSettings) -> TenkfeetClient:
    return TenkfeetClient(
        settings.tenkfeet_api_url,
        settings.tenkfeet_api_token.get_secret_value(),
        timeout=settings.tenkfeet_timeout_seconds,
        max_retries=settings.tenkfeet_max_retries,
    )


def sync_job(run_id: int, attempt: str = "") -> JobRequest:
    return job(RUN_SYNC_JOB, run_id, job_id=f"sync-run:{run_id}{attempt}")


def enqueue_when_committed(session: AsyncSession, requested: tuple[SyncRun, bool]) -> SyncRun:
    """The run `sync_runs.request_run` answered; a new one's job is enqueued once `session`
    commits (a reused waiting run has its job already)."""
    run, created = requested
    if created:
        after_commit(session, sync_job(run.id))
    return run


async def perform(
    sessionmaker: Sessionmaker,
    client: TenkfeetClient,
    run: SyncRun,
    *,
    concurrency: int = 6,
    progress: Progress | None = None,
) -> sync.SyncSummary:
    """Do the work a run asks for, reporting progress into the run and to `progress`."""

    async def report(done: int, total: int) -> None:
        async with sessionmaker() as session, session.begin():
            await sync_runs.record_progress(session, run.id, done, total)
        if progress is not None:
            await progress(done, total)

    if run.kind == "hours":
        if run.start_date is None or run.end_date is None:
            raise RuntimeError(f"hours sync run {run.id} has no date range")
        return await sync.sync_hours(
            sessionmaker,
            client,
            run.start_date,
            run.end_date,
            force=run.force,
            automatic_split=True,
            concurrency=concurrency,
            progress=report,
        )
    syncs = {
        "users": sync.sync_users,
        "projects": sync.sync_projects,
        "leave-types": sync.sync_leave_types,
        "holidays": sync.sync_holidays,
    }
    return await syncs[run.kind](sessionmaker, client)


@asynccontextmanager
async def performing(sessionmaker: Sessionmaker, run_id: int) -> AsyncIterator[bool]:
    """Hold the run's lock while performing it (a session of its own, open as long); yields
    False if another process holds it. The sweeper re-queues a running run nobody holds."""
    async with sessionmaker() as session, session.begin():
        yield await sync_runs.lock_run(session, run_id)


async def execute(
    sessionmaker: Sessionmaker,
    client: TenkfeetClient,
    run: SyncRun,
    *,
    concurrency: int = 6,
    progress: Progress | None = None,
) -> sync.SyncSummary:
    """Perform a claimed run and record how it ended; failures are stored, then re-raised."""
    try:
        summary = await perform(
            sessionmaker, client, run, concurrency=concurrency, progress=progress
        )
    except Exception as exc:
        message = str(exc) if isinstance(exc, EXPECTED_FAILURES) else f"{type(exc).__name__}: {exc}"
        async with sessionmaker() as session, session.begin():
            await sync_runs.finish_run(session, run.id, error=message[:2000])
            session.add(
                Event(event_type=sync.EVENT_TYPES[run.kind], succeeded=False, message=message)
            )
        raise
    async with sessionmaker() as session, session.begin():
        await sync_runs.finish_run(
            session,
            run.id,
            added=summary.added,
            updated=summary.updated,
            deleted=summary.deleted,
            unchanged=summary.unchanged,
            skipped=summary.skipped,
        )
    return summary


# --- arq functions ------------------------------------------------------------------------------


async def run_sync(ctx: dict[str, Any], run_id: int) -> str:
    """arq job: claim the run (a duplicate job finds it taken and stops) and perform it."""
    jobs = checker_jobs(ctx)
    async with performing(jobs.sessions, run_id) as mine:
        if not mine:
            return "running elsewhere"
        return await _claim_and_run(jobs.sessions, jobs.settings, run_id)


async def _claim_and_run(
    sessionmaker: Sessionmaker, settings: InvoiceCheckerSettings, run_id: int
) -> str:
    async with sessionmaker() as session, session.begin():
        run = await sync_runs.claim_run(session, run_id)
    if run is None:
        return "not queued"
    async with tenkfeet_client(settings) as client:
        try:
            summary = await execute(
                sessionmaker, client, run, concurrency=settings.tenkfeet_concurrency
            )
        except EXPECTED_FAILURES as exc:
            logger.warning("sync run failed", extra={"run": run_id, "error": str(exc)})
            return f"failed: {exc}"
    return summary.line(run.kind)


async def sweep_sync_runs(ctx: dict[str, Any]) -> int:
    """arq cron: re-enqueue runs whose job was lost or whose worker died."""
    jobs = checker_jobs(ctx)
    sessionmaker, redis = jobs.sessions, jobs.redis
    async with sessionmaker() as session, session.begin():
        await sync_runs.fail_abandoned_runs(session, ABANDONED_RUNNING_AFTER)
        stale = await sync_runs.stale_queued_runs(session, STALE_QUEUED_AFTER)
    # A killed worker's job would wait for arq's retry (the 3 h timeout + 10 s): run it anew.
    orphans = await sync_runs.requeue_orphaned_runs(sessionmaker, ORPHANED_AFTER)
    for run_id in stale:
        # A fresh job id: the lost job's id may still hold a stored result in Redis.
        await enqueue(redis, sync_job(run_id, ":sweep"))
    for run_id in orphans:
        await enqueue(redis, sync_job(run_id, f":orphan-{time.time_ns()}"))
    return len(stale) + len(orphans)
