"""The worker's schedule (spec 10): which job runs when, each set by one `schedule_*` setting.

Syncs from 10000ft are requested as sync runs (the same path as the API), so a scheduled sync
and a manual one never run twice at once; the other jobs run in the cron job itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from arq.cron import CronJob, cron

from invoice_checker.adapters.s3 import S3NotConfigured
from invoice_checker.adapters.slack import SlackNotConfigured
from invoice_checker.domain.schedule import parse_schedule
from invoice_checker.jobs.aws import EVENT_TYPE as AWS_EVENT
from invoice_checker.jobs.aws import import_aws_billing_automatic
from invoice_checker.jobs.flex import contract_checks_job, flex_notice_job
from invoice_checker.jobs.housekeeping import housekeeping_job
from invoice_checker.jobs.runtime import checker_jobs, job_session, local_today
from invoice_checker.jobs.slack import (
    new_project_notice_job,
    slack_sync_job,
    unapproved_notice_job,
    unsubmitted_notice_job,
)
from invoice_checker.jobs.sync_runs import enqueue_when_committed
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store import sync_runs
from invoice_checker.store.events import record_event
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from service_kit.queue import commit

logger = logging.getLogger(__name__)
NOT_CONFIGURED = (SlackNotConfigured, S3NotConfigured)
# The scheduled hour sync covers the last 60 days and the next 2 (as the original's hourly run).
HOURS_BACK, HOURS_AHEAD = 60, 2


async def _request_sync(ctx: dict[str, Any], kind: str, **dates: Any) -> str:
    async with job_session(ctx) as (session, _):
        requested = await sync_runs.request_run(
            session, kind=kind, requested_by="schedule", **dates
        )
        run = enqueue_when_committed(session, requested)
        await commit(session, checker_jobs(ctx).redis)
    return f"sync run {run.id} ({kind}) requested"


async def scheduled_sync_hours(ctx: dict[str, Any]) -> str:
    today = local_today(ctx)
    return await _request_sync(
        ctx,
        "hours",
        start=today - timedelta(days=HOURS_BACK),
        end=today + timedelta(days=HOURS_AHEAD),
    )


async def scheduled_sync_users(ctx: dict[str, Any]) -> str:
    return await _request_sync(ctx, "users")


async def scheduled_sync_projects(ctx: dict[str, Any]) -> str:
    return await _request_sync(ctx, "projects")


async def scheduled_sync_holidays(ctx: dict[str, Any]) -> str:
    return await _request_sync(ctx, "holidays")


async def scheduled_refresh_stats(ctx: dict[str, Any]) -> str:
    """Nightly sanity refresh of every invoice's stats."""
    async with job_session(ctx) as (session, _):
        count = await refresh_invoice_stats(session)
        message = f"Refreshed the stats of {count} invoices"
        await record_event(session, "refresh_invoice_statistics", message)
    return message


@dataclass(frozen=True)
class ScheduledJob:
    setting: str  # the InvoiceCheckerSettings field holding its cron string
    run: Callable[..., Coroutine[Any, Any, Any]]  # run(ctx, **options)
    timeout_seconds: int = 600
    # The audit events its work writes (a failure writes one named after the job).
    events: tuple[str, ...] = ()

    @property
    def event_types(self) -> tuple[str, ...]:
        return (self.name, *self.events)

    @property
    def name(self) -> str:
        return self.setting.removeprefix("schedule_")

    def reported(self) -> Callable[..., Coroutine[Any, Any, Any]]:
        """The job, writing a failed event when it fails (the original logged successes only)
        and a plain "not configured" event instead of a crash for Slack or AWS left unset."""

        async def run(ctx: dict[str, Any], **options: Any) -> Any:
            try:
                return await self.run(ctx, **options)
            except NOT_CONFIGURED as exc:
                await self._failed(ctx, str(exc))
                return str(exc)
            except Exception as exc:
                await self._failed(ctx, f"{type(exc).__name__}: {exc}")
                raise

        return run

    async def _failed(self, ctx: dict[str, Any], message: str) -> None:
        logger.warning("scheduled job failed", extra={"job": self.name, "error": message})
        async with job_session(ctx) as (session, _):
            await record_event(session, self.name, message[:2000], succeeded=False)


SCHEDULE = (
    ScheduledJob(
        "schedule_sync_hours", scheduled_sync_hours, events=("sync_10000ft_report_hours",)
    ),
    ScheduledJob("schedule_sync_users", scheduled_sync_users, events=("sync_10000ft_users",)),
    ScheduledJob(
        "schedule_sync_projects", scheduled_sync_projects, events=("sync_10000ft_projects",)
    ),
    ScheduledJob(
        "schedule_sync_holidays", scheduled_sync_holidays, events=("sync_public_holidays",)
    ),
    ScheduledJob(
        "schedule_refresh_stats", scheduled_refresh_stats, 1800, ("refresh_invoice_statistics",)
    ),
    ScheduledJob(
        "schedule_slack_sync", slack_sync_job, events=("sync_slack_users", "sync_slack_channels")
    ),
    ScheduledJob("schedule_aws_import", import_aws_billing_automatic, 1800, (AWS_EVENT,)),
    ScheduledJob(
        "schedule_unsubmitted_notice",
        unsubmitted_notice_job,
        events=("send_unsubmitted_hours_notifications",),
    ),
    ScheduledJob(
        "schedule_unapproved_notice",
        unapproved_notice_job,
        events=("send_unapproved_hours_notifications",),
    ),
    ScheduledJob("schedule_flex_notice", flex_notice_job, 1800, ("send_flex_saldo_notifications",)),
    ScheduledJob(
        "schedule_new_project_notice",
        new_project_notice_job,
        events=("send_new_project_notifications",),
    ),
    ScheduledJob("schedule_contract_checks", contract_checks_job, events=("check_contracts",)),
    ScheduledJob("schedule_housekeeping", housekeeping_job, events=("cleanup",)),
)


SCHEDULED_JOBS = {job.name: job for job in SCHEDULE}


async def run_scheduled_job(ctx: dict[str, Any], name: str, force: bool = False) -> Any:
    """arq job: run one scheduled job now (the API's trigger; `jobs run NAME` in the CLI).
    `force` is passed only to the jobs that take it (notices sent again for the period)."""
    job = SCHEDULED_JOBS[name]
    return await job.reported()(ctx, **({"force": True} if force else {}))


def cron_jobs(settings: InvoiceCheckerSettings) -> list[CronJob]:
    """arq cron jobs for every schedule that is not switched off."""
    jobs = []
    for job in SCHEDULE:
        schedule = parse_schedule(getattr(settings, job.setting))
        if schedule is None:
            continue
        jobs.append(
            cron(
                job.reported(),
                name=f"cron:{job.name}",
                month=_values(schedule.month),
                day=_values(schedule.day),
                weekday=_values(schedule.weekday),
                hour=_values(schedule.hour),
                minute=_values(schedule.minute),
                second=0,
                timeout=job.timeout_seconds,
                max_tries=1,
            )
        )
    return jobs


def _values(allowed: frozenset[int] | None) -> set[int] | None:
    """arq's form of a field: a set of values, or None for any."""
    return None if allowed is None else set(allowed)


def schedule_timezone(settings: InvoiceCheckerSettings) -> ZoneInfo:
    return ZoneInfo(settings.schedule_timezone)
