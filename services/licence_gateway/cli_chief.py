"""`licence-gateway chief ...`: the CHIEF codec on files, for operators and acceptance checks.

Stdout carries exactly the output; any refusal is one JSON line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from licence_gateway.domain.chief import (
    DEFAULT_SOURCE_SYSTEM,
    ChiefFormatError,
    LicenceDataInvalid,
    LicenceNotBuildable,
    build_licence_data,
    callback_json,
    parse_licence_reply,
    parse_usage_data,
    reply_summary,
    usage_callback_body,
)
from licence_gateway.domain.licence_validation import validate_licence


def _refuse(**error: object) -> NoReturn:
    click.echo(json.dumps(error), err=True)
    sys.exit(2)


def _out(text: str) -> None:
    """Exactly `text`, UTF-8, whatever the locale."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode())
    sys.stdout.buffer.flush()


def _read_text(path: str) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        _refuse(error=f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError as exc:
        _refuse(error=f"{path} is not UTF-8 text: byte {exc.start} cannot be decoded")


@click.group()
def chief() -> None:
    """CHIEF files: build licenceData, read licenceReply and usageData."""


@chief.command()
@click.option("--run-number", required=True, help="The run number in the header and file name.")
@click.option("--timestamp", required=True, help="Creation time, ISO 8601 (no zone means UTC).")
@click.option("--source-system", default=DEFAULT_SOURCE_SYSTEM, show_default=True)
@click.option("--attachment", is_flag=True, help="Print the ASCII attachment as e-mailed.")
@click.argument("input_path", metavar="INPUT")
def build(
    run_number: str, timestamp: str, source_system: str, attachment: bool, input_path: str
) -> None:
    """Build one licenceData file from INPUT, a JSON list of POST bodies in arrival order."""
    if not run_number.isascii() or not run_number.isdigit() or int(run_number) < 1:
        _refuse(error="--run-number must be a positive whole number", value=run_number)
    try:
        created_at = datetime.fromisoformat(timestamp)
    except ValueError:
        _refuse(error="--timestamp must be an ISO 8601 date and time", value=timestamp)
    try:
        bodies = json.loads(_read_text(input_path))
    except json.JSONDecodeError as exc:
        _refuse(error=f"INPUT is not JSON: {exc}")
    if not isinstance(bodies, list):
        _refuse(error="INPUT must hold a JSON list of POST bodies")
    try:
        built = build_licence_data(
            _accepted_licences(bodies),
            run_number=int(run_number),
            created_at=created_at,
            source_system=source_system,
        )
    except LicenceDataInvalid as exc:
        _refuse(
            error="the licenceData file fails the CHIEF self-check",
            problems=[
                {"line": p.line, "record_type": p.record_type, "message": p.message}
                for p in exc.problems
            ],
        )
    except LicenceNotBuildable as exc:  # validation should make this unreachable
        _refuse(error=str(exc), index=exc.index)
    _out(built.attachment if attachment else built.text)


def _accepted_licences(bodies: list[Any]) -> list[Mapping[str, Any]]:
    """The licence objects the API would store, refusing as the API does (index named)."""
    stored: dict[tuple[uuid.UUID, str], Mapping[str, Any]] = {}
    for index, body in enumerate(bodies):
        if not isinstance(body, Mapping):
            _refuse(error="invalid body", index=index, errors="the body must be a JSON object")
        if "licence" not in body:
            _refuse(
                error="invalid body", index=index, errors={"licence": "This field is required."}
            )
        licence = body["licence"]
        if problems := validate_licence(licence):
            _refuse(error="invalid licence", index=index, errors={"licence": problems})
        key = (uuid.UUID(licence["id"]), licence["action"])
        if key in stored and not _same_json(stored[key], licence):
            _refuse(
                error=f"licence {key[0]} was already received for {key[1]} with other content",
                index=index,
            )
        stored.setdefault(key, licence)  # an identical repeat is stored once, as by the API
    return list(stored.values())


def _same_json(a: object, b: object) -> bool:
    # As the API compares a repeat: key order does not matter, number form does (1 vs 1.0 print
    # differently in the file).
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@chief.command("parse-reply")
@click.argument("path", metavar="FILE")
def parse_reply(path: str) -> None:
    """Print a licenceReply file as JSON: run number, outcome, accepted, rejected, file errors."""
    try:
        reply = parse_licence_reply(_read_text(path))
    except ChiefFormatError as exc:
        _refuse(**exc.as_dict())
    _out(json.dumps(reply_summary(reply)) + "\n")


@chief.command("parse-usage")
@click.argument("path", metavar="FILE")
def parse_usage(path: str) -> None:
    """Print the body ICMS's usage callback receives for a usageData file."""
    try:
        body = usage_callback_body(parse_usage_data(_read_text(path)))
    except ChiefFormatError as exc:
        _refuse(**exc.as_dict())
    _out(callback_json(body) + "\n")
