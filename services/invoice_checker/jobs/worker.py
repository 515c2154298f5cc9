"""The arq worker of the invoice checker: its functions and cron schedule."""

from __future__ import annotations

from typing import Any

from arq import cron, func

from invoice_checker.jobs.aws import import_aws_billing
from invoice_checker.jobs.queue import QUEUE_NAME
from invoice_checker.jobs.runtime import CheckerJobs
from invoice_checker.jobs.schedules import cron_jobs, run_scheduled_job, schedule_timezone
from invoice_checker.jobs.slack import resend_slack_outbox
from invoice_checker.jobs.sync_runs import SYNC_JOB_TIMEOUT_SECONDS, run_sync, sweep_sync_runs
from invoice_checker.settings import InvoiceCheckerSettings
from service_kit.db import create_engine, create_sessionmaker
from service_kit.queue import worker_settings

__all__ = ["QUEUE_NAME", "build_worker_settings"]


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: enqueue it to see that a worker is consuming the queue."""
    return "pong"


def build_worker_settings(settings: InvoiceCheckerSettings) -> dict[str, Any]:
    engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, application_name="ic-worker"
    )  # connects lazily, on the worker's first job

    async def startup(ctx: dict[str, Any]) -> None:
        # What every job reads: settings, sessions on the worker's own engine, arq's Redis.
        CheckerJobs(settings, create_sessionmaker(engine), ctx["redis"]).into(ctx)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await engine.dispose()

    return worker_settings(
        queue_name=QUEUE_NAME,
        redis_url=settings.redis_url,
        functions=[
            ping,
            func(run_sync, timeout=SYNC_JOB_TIMEOUT_SECONDS, keep_result=60),
            func(import_aws_billing, timeout=1800, max_tries=1),
            func(run_scheduled_job, timeout=1800, max_tries=1),
        ],
        cron_jobs=[
            cron(sweep_sync_runs, second=15, run_at_startup=True),
            cron(resend_slack_outbox, second=45, run_at_startup=True, max_tries=1),
            *cron_jobs(settings),
        ],
        timezone=schedule_timezone(settings),
        on_startup=startup,
        on_shutdown=shutdown,
    )
