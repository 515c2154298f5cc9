"""`invoice-checker sync ...`: run a 10000ft sync in the foreground.

Progress goes to stderr, the one-line summary to stdout; exit 0 on success, 1 with one line
`error: ...` when the sync fails (2 for bad settings or options).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime

import click

from invoice_checker.adapters.tenkfeet import TenkfeetError
from invoice_checker.domain.date_ranges import InvalidRange, check_range
from invoice_checker.jobs import sync_runs as runs
from invoice_checker.settings import InvoiceCheckerSettings, get_settings
from invoice_checker.store.hour_sync import month_counts
from invoice_checker.store.sync_runs import request_run
from service_kit.cli import fail, settings_or_exit
from service_kit.db import create_engine, create_sessionmaker
from service_kit.logging import configure_logging


async def _run(
    settings: InvoiceCheckerSettings,
    kind: str,
    start: date | None,
    end: date | None,
    force: bool,
) -> str:
    engine = create_engine(settings.database_url, pool_size=4, application_name="sync-cli")
    sessionmaker = create_sessionmaker(engine)
    # Only an hour sync is long enough to follow: its bar counts days written.
    days = (end - start).days + 1 if start and end else 1
    bar = click.progressbar(
        length=days, label=f"sync {kind}", file=sys.stderr, show_pos=kind == "hours"
    )

    async def progress(done: int, total: int) -> None:
        bar.update(done - bar.pos)

    try:
        async with sessionmaker() as session, session.begin():
            run, _ = await request_run(
                session,
                kind=kind,
                start=start,
                end=end,
                force=force,
                requested_by="cli",
                status="running",
            )
        async with runs.performing(sessionmaker, run.id), runs.tenkfeet_client(settings) as client:
            with bar:
                summary = await runs.execute(
                    sessionmaker,
                    client,
                    run,
                    concurrency=settings.tenkfeet_concurrency,
                    progress=progress,
                )
                bar.update(days - bar.pos)
        return summary.line(kind)
    finally:
        await engine.dispose()


def _sync(
    kind: str, start: date | None = None, end: date | None = None, force: bool = False
) -> None:
    settings = settings_or_exit(get_settings)
    configure_logging(settings.log_level)
    try:
        line = asyncio.run(_run(settings, kind, start, end, force))
    except (TenkfeetError, InvalidRange) as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(f"cannot reach PostgreSQL: {exc}", 1)
    click.echo(line)


@click.group()
def sync() -> None:
    """Copy data from 10000ft now, in the foreground."""


@sync.command()
def users() -> None:
    """Users (archived included); hour entries saved before their user get it."""
    _sync("users")


@sync.command()
def projects() -> None:
    """Parent projects with their phases and admins (from tags)."""
    _sync("projects")


@sync.command("leave-types")
def leave_types() -> None:
    """Leave types."""
    _sync("leave-types")


@sync.command()
def holidays() -> None:
    """Public holidays (those gone from 10000ft are deleted)."""
    _sync("holidays")


DAY = click.DateTime(formats=["%Y-%m-%d"])


@sync.command()
@click.option("--start", type=DAY, required=True, help="first day, YYYY-MM-DD")
@click.option("--end", type=DAY, required=True, help="last day, YYYY-MM-DD (included)")
@click.option("--force", is_flag=True, help="rewrite every day, even those whose checksum matches")
@click.option(
    "--automatic-split",
    is_flag=True,
    help="allow ranges over 181 days (synced in 90-day chunks, no gaps or overlaps)",
)
def hours(start: datetime, end: datetime, force: bool, automatic_split: bool) -> None:
    """Hour entries of START..END, both included."""
    try:
        check_range(start.date(), end.date(), automatic_split=automatic_split)
    except InvalidRange as exc:
        fail(str(exc))
    _sync("hours", start.date(), end.date(), force)


async def _status(settings: InvoiceCheckerSettings, month: date) -> tuple[int, int]:
    engine = create_engine(settings.database_url, pool_size=1, application_name="sync-cli")
    try:
        async with create_sessionmaker(engine)() as session:
            return await month_counts(session, month)
    finally:
        await engine.dispose()


@sync.command()
@click.option(
    "--month", type=click.DateTime(formats=["%Y-%m"]), required=True, help="YYYY-MM to count"
)
def status(month: datetime) -> None:
    """What the syncs left for a month: `invoices: entries=N invoices=M month=YYYY-MM`."""
    settings = settings_or_exit(get_settings)
    try:
        entries, invoices = asyncio.run(_status(settings, month.date()))
    except OSError as exc:
        fail(f"cannot reach PostgreSQL: {exc}", 1)
    click.echo(f"invoices: entries={entries} invoices={invoices} month={month:%Y-%m}")
