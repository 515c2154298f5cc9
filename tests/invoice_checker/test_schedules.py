"""The worker's schedule: cron strings, one arq cron job per enabled setting, and each scheduled
job run through its cron wrapper against the real database, Redis and the Slack stand-in."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.schedule import Schedule, ScheduleError, next_run, parse_schedule
from invoice_checker.jobs.queue import QUEUE_NAME
from invoice_checker.jobs.schedules import SCHEDULE, ScheduledJob, cron_jobs
from invoice_checker.jobs.worker import build_worker_settings
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.slack import SlackSimulator
from invoice_checker.store.syncs import Event, SyncRun
from service_kit.settings import SettingsError, load_settings
from tests.invoice_checker.job_context import job_ctx
from tests.invoice_checker.slack_support import (  # noqa: F401 (fixtures)
    slack_settings_fixture,
    slack_standin_fixture,
)

HELSINKI = ZoneInfo("Europe/Helsinki")


def test_cron_strings() -> None:
    assert parse_schedule("off") is None
    assert parse_schedule("  ") is None
    every = parse_schedule("*/15 * * * *")
    assert every == Schedule(
        minute=frozenset({0, 15, 30, 45}), hour=None, day=None, month=None, weekday=None
    )
    first_wednesday = parse_schedule("0 10 1-7 * 3")
    assert first_wednesday is not None
    assert first_wednesday == Schedule(
        minute=frozenset({0}),
        hour=frozenset({10}),
        day=frozenset(range(1, 8)),
        month=None,
        weekday=frozenset({2}),  # Python's Wednesday
    )
    sundays = parse_schedule("5 4 * 1,7-8 0,7")
    assert (
        sundays is not None
        and sundays.weekday == frozenset({6})
        and sundays.month == frozenset({1, 7, 8})
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 * * *", "expected 5 fields"),
        ("60 * * * *", "minute '60' is outside 0-59"),
        ("x * * * *", "minute 'x' is not a number"),
        ("0 5-1 * * *", "hour '5-1' is outside"),
        ("*/0 * * * *", "minute '\\*/0' is outside"),
        ("0 0 0 * *", "day '0' is outside 1-31"),
    ],
)
def test_bad_cron_strings_are_named(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def test_a_bad_schedule_setting_fails_at_start_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="INVOICE_CHECKER_SCHEDULE_AWS_IMPORT: minute"):
        load_settings(
            InvoiceCheckerSettings,
            database_url="postgresql+asyncpg://u@h/d",
            redis_url="redis://h",
            schedule_aws_import="61 * * * *",
        )


def test_every_schedule_setting_has_one_cron_job_and_off_removes_it(
    ic_settings: InvoiceCheckerSettings,
) -> None:
    names = {job.name for job in cron_jobs(ic_settings)}
    assert names == {f"cron:{job.name}" for job in SCHEDULE}
    assert {job.setting for job in SCHEDULE} == {
        name for name in InvoiceCheckerSettings.model_fields if name.startswith("schedule_")
    } - {"schedule_timezone"}
    quieter = ic_settings.model_copy(update={"schedule_housekeeping": "off"})
    assert "cron:housekeeping" not in {job.name for job in cron_jobs(quieter)}
    worker = build_worker_settings(ic_settings)
    expected = {"cron:sweep_sync_runs", "cron:resend_slack_outbox", *names}
    assert expected == {job.name for job in worker["cron_jobs"]}
    assert worker["timezone"] == HELSINKI


def _next_runs(job_name: str, settings: InvoiceCheckerSettings, start: datetime) -> list[datetime]:
    [job] = [j for j in cron_jobs(settings) if j.name == job_name]
    runs = []
    moment = start
    for _ in range(3):
        job.calculate_next(moment)
        assert job.next_run is not None
        runs.append(job.next_run.replace(microsecond=0))
        moment = job.next_run
    return runs


def test_default_schedules_fire_when_the_spec_says(ic_settings: InvoiceCheckerSettings) -> None:
    start = datetime(2018, 2, 28, 12, 0, tzinfo=HELSINKI)
    assert _next_runs("cron:flex_notice", ic_settings, start) == [
        datetime(2018, 3, 7, 10, 0, tzinfo=HELSINKI),  # first Wednesdays only
        datetime(2018, 4, 4, 10, 0, tzinfo=HELSINKI),
        datetime(2018, 5, 2, 10, 0, tzinfo=HELSINKI),
    ]
    assert [d.date() for d in _next_runs("cron:unsubmitted_notice", ic_settings, start)] == [
        date(2018, 3, 5),  # Mondays
        date(2018, 3, 12),
        date(2018, 3, 19),
    ]
    assert _next_runs("cron:sync_hours", ic_settings, start)[:2] == [
        datetime(2018, 2, 28, 13, 0, tzinfo=HELSINKI),
        datetime(2018, 2, 28, 14, 0, tzinfo=HELSINKI),
    ]


def _job(name: str) -> ScheduledJob:
    return next(job for job in SCHEDULE if job.name == name)


async def _events(session: AsyncSession, event_type: str) -> list[Event]:
    rows = await session.execute(select(Event).where(Event.event_type == event_type))
    return list(rows.scalars())


@pytest.mark.parametrize("kind", ["hours", "users", "projects", "holidays"])
async def test_scheduled_syncs_request_sync_runs(
    kind: str, db_session: AsyncSession, ic_settings: InvoiceCheckerSettings, redis: ArqRedis
) -> None:
    ctx = job_ctx(db_session, ic_settings, redis)
    message = await _job(f"sync_{kind}").reported()(ctx)
    run = (await db_session.execute(select(SyncRun).where(SyncRun.kind == kind))).scalar_one()
    assert message == f"sync run {run.id} ({kind}) requested"
    assert run.status == "queued" and run.requested_by == "schedule"
    if kind == "hours":
        today = datetime.now(HELSINKI).date()
        assert (run.start_date, run.end_date) == (
            today - timedelta(days=60),
            today + timedelta(days=2),
        )
    queued = await redis.queued_jobs(queue_name=QUEUE_NAME)
    assert [(job.function, job.args) for job in queued] == [("run_sync", (run.id,))]


async def test_scheduled_stats_refresh_and_housekeeping_log_events(
    db_session: AsyncSession, ic_settings: InvoiceCheckerSettings
) -> None:
    ctx = job_ctx(db_session, ic_settings)
    assert (await _job("refresh_stats").reported()(ctx)).startswith("Refreshed the stats of")
    assert len(await _events(db_session, "refresh_invoice_statistics")) == 1
    assert (await _job("housekeeping").reported()(ctx)).startswith("Removed ")


async def test_scheduled_slack_jobs_use_slack(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    ctx = job_ctx(db_session, slack_settings)
    for name in ("slack_sync", "unsubmitted_notice", "unapproved_notice", "flex_notice"):
        await _job(name).reported()(ctx)
    methods = [call.method for call in slack_standin.calls]
    assert methods == ["users.list", "conversations.list"]  # nothing to notify about
    assert len(await _events(db_session, "send_unsubmitted_hours_notifications")) == 1
    assert len(await _events(db_session, "send_flex_saldo_notifications")) == 1


async def test_unconfigured_features_are_reported_not_crashed(
    db_session: AsyncSession, ic_settings: InvoiceCheckerSettings
) -> None:
    ctx = job_ctx(db_session, ic_settings)
    slack = await _job("slack_sync").reported()(ctx)
    aws = await _job("aws_import").reported()(ctx)
    assert slack == "Slack is not configured: set INVOICE_CHECKER_SLACK_BOT_TOKEN"
    assert aws.startswith("AWS billing is not configured: set INVOICE_CHECKER_AWS_ACCESS_KEY_ID")
    [event] = await _events(db_session, "slack_sync")
    assert event.succeeded is False and event.message == slack


async def test_a_failing_job_leaves_a_failed_event_and_raises(
    db_session: AsyncSession, ic_settings: InvoiceCheckerSettings
) -> None:
    async def broken(ctx: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    ctx = job_ctx(db_session, ic_settings)
    with pytest.raises(RuntimeError):
        await ScheduledJob("schedule_broken", broken).reported()(ctx)
    [event] = await _events(db_session, "broken")
    assert (event.succeeded, event.message) == (False, "RuntimeError: boom")


@pytest.mark.parametrize(
    ("cron_text", "after", "expected"),
    [
        ("*/15 * * * *", datetime(2018, 3, 5, 10, 7, 30), datetime(2018, 3, 5, 10, 15)),
        ("*/15 * * * *", datetime(2018, 3, 5, 10, 15), datetime(2018, 3, 5, 10, 30)),
        ("0 10 * * 1", datetime(2018, 3, 5, 10, 0), datetime(2018, 3, 12, 10, 0)),  # Mondays
        ("0 10 * * 1", datetime(2018, 3, 4, 23, 59), datetime(2018, 3, 5, 10, 0)),
        ("30 6 1 * *", datetime(2018, 12, 31, 12, 0), datetime(2019, 1, 1, 6, 30)),
        ("0 0 29 2 *", datetime(2018, 3, 1), datetime(2020, 2, 29, 0, 0)),  # next leap day
    ],
)
def test_next_run(cron_text: str, after: datetime, expected: datetime) -> None:
    schedule = parse_schedule(cron_text)
    assert schedule is not None
    assert next_run(schedule, after, within_days=800) == expected


def test_next_run_keeps_the_zone_and_gives_up() -> None:
    zone = ZoneInfo("Europe/Helsinki")
    schedule = parse_schedule("0 3 * * *")
    assert schedule is not None
    found = next_run(schedule, datetime(2018, 3, 5, 4, 0, tzinfo=zone))
    assert found == datetime(2018, 3, 6, 3, 0, tzinfo=zone)
    leap = parse_schedule("0 0 29 2 *")
    assert leap is not None
    assert next_run(leap, datetime(2018, 3, 1), within_days=30) is None
