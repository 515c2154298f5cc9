"""Inclusive date ranges for hour syncs: validation and cutting long ranges into chunks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated

from pydantic import AfterValidator

MAX_UNSPLIT_DAYS = 181  # the original refused longer ranges unless asked to split them
SPLIT_CHUNK_DAYS = 90


# Every date the API accepts lies here: far enough from year 1 and 9999 that a report's "two
# years back" or "next month" cannot overflow, wide enough for any real hour entry.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)
MONTH_PATTERN = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$"  # YYYY-MM within those bounds


def within_calendar(day: date) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return day


# The type of every date in a query or body: outside the bounds is a 422, never a 500.
Day = Annotated[date, AfterValidator(within_calendar)]


class InvalidRange(ValueError):
    pass


def days_in(start: date, end: date) -> Iterator[date]:
    """Every day from start to end, both included."""
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def check_range(start: date, end: date, *, automatic_split: bool = False) -> None:
    if end < start:
        raise InvalidRange(f"end {end} is before start {start}")
    if not automatic_split and (end - start).days > MAX_UNSPLIT_DAYS:
        raise InvalidRange(
            f"date range can't be >{MAX_UNSPLIT_DAYS} days; use --automatic-split to cut it"
        )


def split_range(
    start: date, end: date, chunk_days: int = SPLIT_CHUNK_DAYS
) -> list[tuple[date, date]]:
    """Chunks of at most `chunk_days` days covering start..end with no gap and no overlap; a
    one-day range is one chunk (the original queued nothing for it and repeated each boundary
    day, 15.9)."""
    check_range(start, end, automatic_split=True)
    chunks = []
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(chunk_start + timedelta(days=chunk_days - 1), end)
        chunks.append((chunk_start, chunk_end))
        chunk_start = chunk_end + timedelta(days=1)
    return chunks


def months_in(start: date, end: date) -> list[date]:
    """The first day of every month the range touches, including the month of `start` (the
    original's refresh skipped it unless start was the 1st, 15.5)."""
    months = []
    month = start.replace(day=1)
    while month <= end:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months
