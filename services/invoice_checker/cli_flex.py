"""`invoice-checker flex ...`: a saldo from a JSON file (no database), and everyone's saldo."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from invoice_checker.domain.flex import (
    FlexError,
    calculate_flex_saldo,
    parse_inputs,
    result_document,
    saldo_band,
)
from invoice_checker.jobs.flex import SaldoLine, current_saldos
from invoice_checker.settings import InvoiceCheckerSettings, get_settings
from service_kit.cli import settings_or_exit
from service_kit.db import create_engine, create_sessionmaker


def _fail(message: str) -> NoReturn:
    click.echo(json.dumps({"error": message}), err=True)
    sys.exit(2)


@click.group()
def flex() -> None:
    """Flex-time saldo."""


@flex.command()
@click.argument("input_file", metavar="INPUT", type=click.File("r", encoding="utf-8"))
def calculate(input_file: Any) -> None:
    """Print the saldo, KIKY, monthly summary and daily log of INPUT as JSON.

    INPUT ("-" for stdin) holds `today`, `contracts`, `flex_time_corrections`,
    `public_holidays`, `hour_entries` and optionally `flex_last_day` and `ignore_events`.
    A contract gap or missing contract prints {"error": ...} on stderr and exits 2.
    """
    try:
        document = json.load(input_file)
        if not isinstance(document, dict):
            raise TypeError("the input must be a JSON object")
        inputs = parse_inputs(document)
    except (ValueError, KeyError, TypeError) as exc:
        _fail(f"invalid input: {exc!s}" if not isinstance(exc, KeyError) else f"missing {exc}")
    try:
        result = calculate_flex_saldo(inputs)
    except FlexError as exc:
        _fail(str(exc))
    click.echo(json.dumps(result_document(result), indent=2))


BAND_COLOURS = {"below": "red", "above": "yellow"}


def _colour(saldo: float) -> str | None:
    band = saldo_band(saldo)
    return BAND_COLOURS[band] if band else None


async def _saldos(
    settings: InvoiceCheckerSettings, flex_end_date: date | None, ignore_events: bool
) -> list[SaldoLine]:
    engine = create_engine(settings.database_url, pool_size=2, application_name="flex-cli")
    try:
        async with create_sessionmaker(engine)() as session:
            today = datetime.now(ZoneInfo(settings.schedule_timezone)).date()
            return await current_saldos(
                session, today, flex_last_day=flex_end_date, ignore_events=ignore_events
            )
    finally:
        await engine.dispose()


@flex.command()
@click.option(
    "--flex-end-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day computed (default: yesterday)",
)
@click.option("--ignore-events", is_flag=True, help="Leave corrections out")
def report(flex_end_date: datetime | None, ignore_events: bool) -> None:
    """Print `email - saldo h` for every active person, lowest first (red below -40 h, yellow
    above 120 h); people whose saldo cannot be computed are listed on stderr."""
    settings = settings_or_exit(get_settings)
    end = flex_end_date.date() if flex_end_date else None
    for line in asyncio.run(_saldos(settings, end, ignore_events)):
        if line.saldo is None:
            click.echo(f"{line.email} - {line.problem}", err=True)
        else:
            click.secho(f"{line.email} - {line.saldo:.2f} h", fg=_colour(line.saldo))
