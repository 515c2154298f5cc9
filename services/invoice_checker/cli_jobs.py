"""`invoice-checker jobs ...`: see the worker's schedule, and run any scheduled job once, now.

Exit 0 with the job's summary on stdout; 1 with one `error: ...` line when it fails.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import click

from invoice_checker.jobs.aws import import_aws_billing
from invoice_checker.jobs.runtime import CheckerJobs, job_session
from invoice_checker.jobs.schedules import SCHEDULE
from invoice_checker.jobs.slack import resend_slack_outbox
from invoice_checker.settings import InvoiceCheckerSettings, get_settings
from invoice_checker.store.aws import link_users_by_name
from service_kit.cli import fail, settings_or_exit
from service_kit.db import create_engine, create_sessionmaker
from service_kit.logging import configure_logging
from service_kit.queue import create_redis

JOBS = {job.name.replace("_", "-"): job for job in SCHEDULE}


async def _run_once(
    settings: InvoiceCheckerSettings,
    function: Callable[..., Awaitable[Any]],
    *args: Any,
    **kwargs: Any,
) -> Any:
    """Call a job function with a worker-like context (settings, sessions, Redis)."""
    engine = create_engine(settings.database_url, pool_size=2, application_name="jobs-cli")
    redis = create_redis(settings.redis_url)
    ctx = CheckerJobs(settings, create_sessionmaker(engine), redis).into({})
    try:
        return await function(ctx, *args, **kwargs)
    finally:
        await redis.aclose()
        await engine.dispose()


def _echo(result: Any) -> None:
    for line in result if isinstance(result, list) else [result]:
        click.echo(line)


@click.group()
def jobs() -> None:
    """The worker's scheduled jobs."""


@jobs.command("list")
def list_jobs() -> None:
    """Each scheduled job, its cron schedule and the setting that holds it."""
    settings = settings_or_exit(get_settings)
    for name, job in JOBS.items():
        variable = f"INVOICE_CHECKER_{job.setting.upper()}"
        click.echo(f"{name:<20} {getattr(settings, job.setting):<14} {variable}")


@jobs.command()
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.option("--force", is_flag=True, help="Send notices again even if sent for the period")
def run(name: str, force: bool) -> None:
    """Run one scheduled job now, in the foreground."""
    settings = settings_or_exit(get_settings)
    configure_logging(settings.log_level)
    job = JOBS[name]
    kwargs = {"force": True} if force and "force" in inspect.signature(job.run).parameters else {}
    if force and not kwargs:
        fail(f"{name} has no --force")
    try:
        result = asyncio.run(_run_once(settings, job.run, **kwargs))
    except Exception as exc:
        fail(f"{name} failed: {exc}", 1)
    _echo(result)


@jobs.command("resend-slack")
def resend_slack() -> None:
    """Send the Slack notice messages a failed or killed run left unsent (the worker does this
    every minute)."""
    settings = settings_or_exit(get_settings)
    configure_logging(settings.log_level)
    try:
        result = asyncio.run(_run_once(settings, resend_slack_outbox))
    except Exception as exc:
        fail(f"resend-slack failed: {exc}", 1)
    _echo(result)


@jobs.command("import-aws")
@click.argument("month", type=click.DateTime(formats=["%Y-%m"]))
def import_aws(month: datetime) -> None:
    """Import the AWS billing CSV of MONTH (YYYY-MM) from S3; safe to repeat."""
    settings = settings_or_exit(get_settings)
    configure_logging(settings.log_level)
    try:
        result = asyncio.run(_run_once(settings, import_aws_billing, month.year, month.month))
    except Exception as exc:
        fail(f"AWS import failed: {exc}", 1)
    _echo(result)


async def _link_aws_users(ctx: dict[str, Any]) -> str:
    async with job_session(ctx) as (session, _):
        return f"Linked {await link_users_by_name(session)} people to their AWS accounts"


@jobs.command("link-aws-users")
def link_aws_users() -> None:
    """Link people to the AWS account named exactly like them (when only one is)."""
    settings = settings_or_exit(get_settings)
    _echo(asyncio.run(_run_once(settings, _link_aws_users)))
