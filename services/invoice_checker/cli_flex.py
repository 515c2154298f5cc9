"""`invoice-checker flex ...`: compute a flex saldo from a JSON file, without a database."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from invoice_checker.domain.flex import (
    FlexError,
    calculate_flex_saldo,
    parse_inputs,
    result_document,
)


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
