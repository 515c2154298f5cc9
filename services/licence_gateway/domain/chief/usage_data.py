"""usageData: CHIEF's daily licence usage extract (spec 9.2): parse, render.

Only the licenceUsage transaction headers matter to ICMS; `line` and `usage` records are read past
as the original did. Lines are right-stripped like licenceReply lines (padding, CRLF).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from licence_gateway.domain.chief.licence_data import DEFAULT_SOURCE_SYSTEM, file_timestamp
from licence_gateway.domain.chief.syntax import FIELD_SEP, LINE_SEP, ChiefFormatError


@dataclass(frozen=True, slots=True)
class LicenceUsage:
    transaction_ref: str  # LU<run>/<seq>
    action: str
    licence_ref: str
    licence_status: str  # C cancelled, E exhausted, O open, S surrendered, D expired
    completion_date: str | None = None


@dataclass(frozen=True, slots=True)
class UsageHeader:
    source_system: str
    destination_system: str
    data_id: str
    created_at: str
    run_number: str
    reset_run_number: str | None = None


@dataclass(frozen=True, slots=True)
class UsageData:
    header: UsageHeader | None
    usages: tuple[LicenceUsage, ...]
    transaction_count: str | None  # from the fileTrailer
    trailer_line: int | None

    @property
    def run_number(self) -> str:
        return self.header.run_number if self.header else ""


# record type -> (fewest, most) data fields; None: not limited (records the original ignores)
_FIELD_COUNTS: dict[str, tuple[int, int | None]] = {
    "fileHeader": (5, 6),
    "licenceUsage": (4, 5),
    "line": (0, None),
    "usage": (0, None),
    "end": (1, None),
    "fileTrailer": (0, 2),
}
_END_OF = frozenset({"line", "licenceUsage"})


def parse_usage_data(text: str) -> UsageData:
    """Every record read; raises `ChiefFormatError` naming the line for a malformed one."""
    header: UsageHeader | None = None
    usages: list[LicenceUsage] = []
    transaction_count: str | None = None
    trailer_line: int | None = None
    for number, raw in enumerate(text.split(LINE_SEP), start=1):
        line = raw.rstrip()
        if not line:
            continue
        _, *fields = line.split(FIELD_SEP)
        record_type = fields[0] if fields else ""
        limits = _FIELD_COUNTS.get(record_type)
        if limits is None:
            raise ChiefFormatError(
                f"Unable to process file: Unknown field_type ({record_type}) on line {number}",
                number,
            )
        data = fields[1:]
        fewest, most = limits
        if len(data) < fewest or (most is not None and len(data) > most):
            raise ChiefFormatError(
                f"Unable to process file: {record_type} record has {len(data)} fields"
                f" on line {number}",
                number,
            )
        if record_type == "licenceUsage":
            usages.append(LicenceUsage(*data))
        elif record_type == "end" and data[0] not in _END_OF:
            raise ChiefFormatError(
                f"Unable to process file: Unknown start record type ({data[0]}) on line {number}",
                number,
            )
        elif record_type == "fileHeader":
            header = UsageHeader(*data)
        elif record_type == "fileTrailer":
            transaction_count = data[0] if data else None
            trailer_line = number
    return UsageData(header, tuple(usages), transaction_count, trailer_line)


def check_usage_complete(usage: UsageData) -> None:
    """The original's validity rule: the trailer counts exactly the licenceUsage transactions."""
    if usage.trailer_line is None:
        raise ChiefFormatError("Unable to process file: usageData file has no fileTrailer record")
    count = usage.transaction_count or ""
    if not (count.isascii() and count.isdigit() and int(count) == len(usage.usages)):
        raise ChiefFormatError(
            f"Unable to process file: fileTrailer counts {usage.transaction_count!r} transactions"
            f" but the file has {len(usage.usages)} on line {usage.trailer_line}",
            usage.trailer_line,
        )


def usage_callback_body(usage: UsageData) -> dict[str, list[dict[str, str]]]:
    """The body for ICMS's `chief/usage-data-callback` (spec 4.2), for a complete file only."""
    check_usage_complete(usage)
    return {
        "usage_data": [
            {"licence_ref": u.licence_ref, "licence_status": u.licence_status} for u in usage.usages
        ]
    }


def usage_data_file_name(run_number: int, when: datetime) -> str:
    return f"{DEFAULT_SOURCE_SYSTEM}_live_CHIEF_usageData_{run_number}_{file_timestamp(when)}"


@dataclass(frozen=True, slots=True)
class UsageToReport:
    """What the HMRC simulator reports for one licence: its status and quantity used on line 1."""

    licence_ref: str
    licence_status: str = "O"
    completion_date: str = ""
    quantity_used: str = "0"


def render_usage_data(
    *,
    run_number: int,
    created_at: datetime,
    usages: Iterable[UsageToReport],
    destination_system: str = DEFAULT_SOURCE_SYSTEM,
) -> str:
    """A usageData file laid out as CHIEF sends it (trailing empty fields, LF, final newline)."""
    records = [
        f"fileHeader\\CHIEF\\{destination_system}\\usageData"
        f"\\{file_timestamp(created_at)}\\{run_number}\\"
    ]
    count = 0
    for count, usage in enumerate(usages, start=1):
        records += [
            f"licenceUsage\\LU{run_number:05}/{count:05}\\insert\\{usage.licence_ref}"
            f"\\{usage.licence_status}\\{usage.completion_date}",
            f"line\\1\\{usage.quantity_used}\\0\\",
            "end\\line\\2",
            "end\\licenceUsage\\4",
        ]
    records.append(f"fileTrailer\\{count}")
    return "".join(f"{n}\\{record}\n" for n, record in enumerate(records, start=1))
