"""Bugs of the original sync and update queue fixed on purpose, each shown failing the old way:
15.7 (stale admins), 15.11 (a queued run left pending), 15.17 (users compared by updated_at
only; an entry of an unsynced user aborting the run)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.jobs.queue import QUEUE_NAME
from invoice_checker.jobs.runtime import CheckerJobs
from invoice_checker.jobs.sync import sync_hours, sync_projects, sync_users
from invoice_checker.jobs.sync_runs import (
    RUN_SYNC_JOB,
    enqueue_when_committed,
    performing,
    run_sync,
    sweep_sync_runs,
)
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import Project, ProjectAdmin, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.sync_runs import claim_run, request_run
from invoice_checker.store.syncs import SyncRun
from service_kit.queue import commit
from tests.invoice_checker.sync_support import (
    TOKEN,
    clean_sessionmaker,
    end_to_end_vector,
    in_process_client,
    served,
    vector_world,
)
from tests.support.infra import redis_url_for_tests

VECTOR = end_to_end_vector()
START, END = date(2018, 1, 29), date(2018, 2, 9)


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> Any:
    async with clean_sessionmaker(engine) as maker:
        yield maker


async def test_a_local_user_difference_is_repaired_without_force(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with in_process_client(vector_world(VECTOR)) as client:
        await sync_users(sessionmaker, client)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(TenkfeetUser).where(TenkfeetUser.user_id == 101).values(display_name="X")
            )
        # Same updated_at upstream: the original skipped the user and kept "X".
        summary = await sync_users(sessionmaker, client)
    assert (summary.updated, summary.unchanged) == (1, 2)
    async with sessionmaker() as session:
        name = await session.scalar(
            select(TenkfeetUser.display_name).where(TenkfeetUser.user_id == 101)
        )
    assert name == "Alice Admin"


async def test_entries_of_unsynced_users_and_projects_sync_them_first(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with in_process_client(vector_world(VECTOR)) as client:
        # No user or project sync first: the original raised KeyError and aborted the run.
        summary = await sync_hours(sessionmaker, client, START, END)
    assert (summary.added, summary.skipped) == (9, 0)
    async with sessionmaker() as session:
        entries = list(await session.scalars(select(HourEntry)))
    assert all(entry.user_guid is not None for entry in entries)
    assert {entry.user_email for entry in entries} == {
        "alice.admin@example.com",
        "bob.builder@example.com",
        "carol.coder@example.com",
    }


async def test_an_entry_on_an_unknown_project_is_skipped_and_retried_later(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = vector_world(VECTOR)
    orphan = dict(world.entries[date(2018, 2, 5)][0], id=77, assignable_id=424242)
    world.change_day(date(2018, 2, 5), "add", {"entries": [orphan]})
    async with in_process_client(world) as client:
        first = await sync_hours(sessionmaker, client, START, END)
        assert (first.added, first.skipped) == (9, 1)
        # The day is not marked done: once the project exists, the entry arrives.
        world.projects.append(
            dict(world.projects[0], id=424242, guid="aaaaaaaa-0000-0000-0000-000000424242")
        )
        second = await sync_hours(sessionmaker, client, START, END)
    assert (second.added, second.skipped) == (1, 0)


async def test_admins_are_all_tagged_users_and_untagged_projects_lose_stale_admins(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = vector_world(VECTOR)
    async with in_process_client(world) as client:
        await sync_users(sessionmaker, client)
        await sync_projects(sessionmaker, client)
        world.projects[0]["tags"] = {"data": []}  # Webshop's tags removed upstream
        await sync_projects(sessionmaker, client)
    async with sessionmaker() as session:
        admins = list(
            await session.scalars(
                select(ProjectAdmin.user_guid)
                .join(Project, Project.guid == ProjectAdmin.project_guid)
                .where(Project.project_id == 1000)
            )
        )
    assert admins == []  # the original kept Bob


def worker_ctx(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    database_url: str,
    redis_url: str,
    tenkfeet_url: str,
) -> dict[str, Any]:
    """What a worker gives its jobs, against the 10000ft stand-in at `tenkfeet_url`."""
    settings = InvoiceCheckerSettings(
        database_url=database_url,
        redis_url=redis_url,
        tenkfeet_api_url=tenkfeet_url,
        tenkfeet_api_token=TOKEN,
    )
    return CheckerJobs(settings, sessionmaker, redis).into({})


async def test_a_lone_queued_run_is_picked_up_and_a_lost_job_is_swept(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    database_url: str,
    redis_url: str,
) -> None:
    """15.11: the original left exactly one queued update pending forever."""
    world = vector_world(VECTOR)
    with served(world) as url:
        ctx = worker_ctx(sessionmaker, redis, database_url, redis_url, url)
        async with sessionmaker() as session:
            requested = await request_run(session, kind="hours", start=START, end=END)
            run = enqueue_when_committed(session, requested)
            await commit(session, redis)
        jobs = await redis.queued_jobs(queue_name=QUEUE_NAME)
        assert [(job.function, job.args) for job in jobs] == [(RUN_SYNC_JOB, (run.id,))]

        # The job is lost (say Redis was flushed); the sweeper finds the run still queued.
        await redis.flushdb()
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(SyncRun)
                .where(SyncRun.id == run.id)
                .values(created_at=SyncRun.created_at - timedelta(minutes=10))
            )
        assert await sweep_sync_runs(ctx) == 1
        swept = await redis.queued_jobs(queue_name=QUEUE_NAME)
        assert [job.args for job in swept] == [(run.id,)]

        assert (
            await run_sync(ctx, run.id) == "hours: added 9, updated 0, deleted 0, unchanged days 0"
        )
        assert await run_sync(ctx, run.id) == "not queued"  # a duplicate job does nothing
    async with sessionmaker() as session:
        done = await session.get(SyncRun, run.id)
    assert done is not None
    assert (done.status, done.added, done.days_done, done.days_total) == ("succeeded", 9, 12, 12)
    assert done.progress == 1.0


async def test_a_failing_run_is_recorded_with_its_reason(
    sessionmaker: async_sessionmaker[AsyncSession], redis: ArqRedis, database_url: str
) -> None:
    settings = InvoiceCheckerSettings(
        database_url=database_url,
        redis_url=redis_url_for_tests(),
        tenkfeet_api_url="http://127.0.0.1:9",  # nothing listens there
        tenkfeet_max_retries=0,
    )
    ctx = CheckerJobs(settings, sessionmaker, redis).into({})
    async with sessionmaker() as session:
        run = enqueue_when_committed(session, await request_run(session, kind="users"))
        await commit(session, redis)
    assert (await run_sync(ctx, run.id)).startswith("failed: 10000ft unavailable")
    async with sessionmaker() as session:
        failed = await session.get(SyncRun, run.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "connection error" in failed.error


async def test_a_failed_sync_writes_no_partial_batch_and_a_rerun_completes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """10000ft stops answering: the run fails with one clear error, the batch it was assembling
    is not written in part, and the next run brings everything."""
    from invoice_checker.adapters.tenkfeet import TenkfeetUnavailable
    from invoice_checker.simulators.tenkfeet import Faults

    world = vector_world(VECTOR)
    async with in_process_client(world, max_retries=1) as client:
        await sync_users(sessionmaker, client)
        await sync_projects(sessionmaker, client)
        world.faults = Faults(server_errors=1000)
        with pytest.raises(TenkfeetUnavailable, match="after 2 attempts: 503"):
            await sync_hours(sessionmaker, client, START, END)
        async with sessionmaker() as session:
            assert list(await session.scalars(select(HourEntry))) == []
        world.faults = Faults()
        summary = await sync_hours(sessionmaker, client, START, END)
    assert summary.added == 9
    async with sessionmaker() as session:
        assert len(list(await session.scalars(select(HourEntry)))) == 9


async def test_a_run_whose_worker_died_is_queued_again_and_a_live_one_is_left_alone(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    database_url: str,
    redis_url: str,
) -> None:
    """Issue 16: a worker SIGKILLed mid-sync left its run 'running' for six hours (and arq's
    retry waits for the job's 3 h timeout). Whoever performs a run holds its advisory lock; a
    running run nobody holds is queued and enqueued again by the sweeper."""
    world = vector_world(VECTOR)
    with served(world) as url:
        ctx = worker_ctx(sessionmaker, redis, database_url, redis_url, url)
        async with sessionmaker() as session:
            dead = enqueue_when_committed(
                session, await request_run(session, kind="hours", start=START, end=END)
            )
            alive = enqueue_when_committed(session, await request_run(session, kind="users"))
            await commit(session, redis)
        await redis.flushdb()
        minute_ago = datetime.now(UTC) - timedelta(minutes=1)
        async with sessionmaker() as session, session.begin():
            for run in (dead, alive):
                await claim_run(session, run.id)  # as a worker does, then dies (no lock held)
            await session.execute(
                update(SyncRun).where(SyncRun.status == "running").values(started_at=minute_ago)
            )
        async with performing(sessionmaker, alive.id) as mine:  # another worker runs this one
            assert mine
            assert await sweep_sync_runs(ctx) == 1
            assert await run_sync(ctx, alive.id) == "running elsewhere"
        requeued = await redis.queued_jobs(queue_name=QUEUE_NAME)
        assert [job.args for job in requeued] == [(dead.id,)]
        assert (
            await run_sync(ctx, dead.id) == "hours: added 9, updated 0, deleted 0, unchanged days 0"
        )
    async with sessionmaker() as session:
        statuses = {
            run.id: run.status
            for run in await session.scalars(select(SyncRun).order_by(SyncRun.id))
        }
    assert statuses == {dead.id: "succeeded", alive.id: "running"}
