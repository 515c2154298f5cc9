"""Queries over sync runs: request, claim, progress, finish, sweep."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.store.syncs import SyncRun
from service_kit.advisory_locks import AdvisoryLockClass


async def lock_run(session: AsyncSession, run_id: int) -> bool:
    """Take the run's lock until the session's transaction ends; False if someone holds it. A
    dead process's lock goes with its connection."""
    locked = await session.scalar(
        select(func.pg_try_advisory_xact_lock(int(AdvisoryLockClass.SYNC_RUN), run_id))
    )
    return bool(locked)


async def requeue_orphaned_runs(
    sessionmaker: async_sessionmaker[AsyncSession], started_before: timedelta
) -> list[int]:
    """Runs 'running' for longer than `started_before` whose lock nobody holds: their process
    died. They go back to 'queued' (the caller enqueues them again)."""
    cutoff = datetime.now(UTC) - started_before
    async with sessionmaker() as session:
        running = list(
            await session.scalars(
                select(SyncRun.id).where(SyncRun.status == "running", SyncRun.started_at < cutoff)
            )
        )
    orphans = []
    for run_id in running:
        async with sessionmaker() as session, session.begin():
            if not await lock_run(session, run_id):
                continue  # alive
            result = await session.execute(
                update(SyncRun)
                .where(SyncRun.id == run_id, SyncRun.status == "running")
                .values(status="queued", started_at=None)
            )
            if getattr(result, "rowcount", 0):
                orphans.append(run_id)
    return orphans


async def request_run(
    session: AsyncSession,
    *,
    kind: str,
    start: date | None = None,
    end: date | None = None,
    force: bool = False,
    requested_by: str = "system",
    status: str = "queued",
) -> tuple[SyncRun, bool]:
    """A queued run for this request: an identical one still waiting is reused, so repeated
    requests collapse into one sync. Returns (run, created)."""
    if status == "queued":
        waiting = await session.scalar(
            select(SyncRun)
            .where(
                SyncRun.status == "queued",
                SyncRun.kind == kind,
                SyncRun.start_date.is_not_distinct_from(start),
                SyncRun.end_date.is_not_distinct_from(end),
                SyncRun.force.is_(force),
            )
            .limit(1)
        )
        if waiting is not None:
            return waiting, False
    run = SyncRun(
        kind=kind,
        start_date=start,
        end_date=end,
        force=force,
        requested_by=requested_by,
        status=status,
        started_at=datetime.now(UTC) if status == "running" else None,
    )
    session.add(run)
    await session.flush()
    return run, True


async def claim_run(session: AsyncSession, run_id: int) -> SyncRun | None:
    """Move a queued run to running; None if another worker took it or it is not queued."""
    claimed = await session.scalar(
        update(SyncRun)
        .where(SyncRun.id == run_id, SyncRun.status == "queued")
        .values(status="running", started_at=datetime.now(UTC))
        .returning(SyncRun)
    )
    return claimed


async def record_progress(session: AsyncSession, run_id: int, done: int, total: int) -> None:
    await session.execute(
        update(SyncRun).where(SyncRun.id == run_id).values(days_done=done, days_total=total)
    )


async def finish_run(
    session: AsyncSession,
    run_id: int,
    *,
    added: int = 0,
    updated: int = 0,
    deleted: int = 0,
    unchanged: int = 0,
    skipped: int = 0,
    error: str | None = None,
) -> None:
    await session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(
            status="failed" if error else "succeeded",
            finished_at=datetime.now(UTC),
            added=added,
            updated=updated,
            deleted=deleted,
            unchanged_days=unchanged,
            skipped_entries=skipped,
            error=error,
        )
    )


async def stale_queued_runs(session: AsyncSession, older_than: timedelta) -> list[int]:
    """Runs still queued after `older_than`: their job was lost (Redis down, worker gone)."""
    cutoff = datetime.now(UTC) - older_than
    rows = await session.scalars(
        select(SyncRun.id)
        .where(SyncRun.status == "queued", SyncRun.created_at < cutoff)
        .order_by(SyncRun.created_at)
    )
    return list(rows)


async def fail_abandoned_runs(session: AsyncSession, older_than: timedelta) -> int:
    """Runs left 'running' far beyond any job timeout died with their worker."""
    cutoff = datetime.now(UTC) - older_than
    result = await session.execute(
        update(SyncRun)
        .where(SyncRun.status == "running", SyncRun.started_at < cutoff)
        .values(status="failed", finished_at=datetime.now(UTC), error="worker lost the run")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def latest_runs(
    session: AsyncSession, kind: str, *, covering: tuple[date, date] | None = None, limit: int = 1
) -> list[SyncRun]:
    """The newest runs of `kind`, optionally only those whose range overlaps `covering`."""
    query = select(SyncRun).where(SyncRun.kind == kind)
    if covering is not None:
        first, last = covering
        query = query.where(SyncRun.start_date <= last, SyncRun.end_date >= first)
    query = query.order_by(SyncRun.created_at.desc(), SyncRun.id.desc()).limit(limit)
    return list(await session.scalars(query))
