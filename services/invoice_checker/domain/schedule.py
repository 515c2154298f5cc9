"""Cron-like schedule strings for the worker's jobs, turned into arq `cron()` arguments.

Five fields: minute hour day month weekday. Each is `*`, a number, `a-b`, a list `a,b` or a step
`*/n` / `a-b/n`. Weekdays are 0-6 from Sunday (7 is Sunday too), as in crontab. Unlike crontab,
day and weekday are ANDed (arq's rule), so `0 10 1-7 * 3` means the first Wednesday of a month.
`off` (or an empty string) disables the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator

OFF = "off"
# (name, lowest, highest) of each field, in order.
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    """The values each field allows; None means any value."""

    minute: frozenset[int] | None
    hour: frozenset[int] | None
    day: frozenset[int] | None
    month: frozenset[int] | None
    weekday: frozenset[int] | None  # Python's numbering: Monday = 0


def parse_schedule(text: str) -> Schedule | None:
    """The schedule, or None when it is switched off; ScheduleError says what is wrong."""
    text = text.strip()
    if text.lower() in ("", OFF):
        return None
    parts = text.split()
    if len(parts) != len(FIELDS):
        raise ScheduleError(f"{text!r}: expected 5 fields (minute hour day month weekday) or 'off'")
    values = [_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    minute, hour, day, month, weekday = values
    if weekday is not None:
        # crontab counts from Sunday (0 or 7); Python and arq from Monday.
        weekday = frozenset((value - 1) % 7 for value in weekday)
    return Schedule(minute=minute, hour=hour, day=day, month=month, weekday=weekday)


def _field(part: str, name: str, low: int, high: int) -> frozenset[int] | None:
    if part == "*":
        return None
    allowed: set[int] = set()
    for item in part.split(","):
        allowed |= _item(item, name, low, high)
    return frozenset(allowed)


def _item(item: str, name: str, low: int, high: int) -> set[int]:
    span, _, step_text = item.partition("/")
    try:
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first_text, last_text = span.split("-", 1)
            first, last = int(first_text), int(last_text)
        else:
            first = last = int(span)
    except ValueError:
        raise ScheduleError(f"{name} {item!r} is not a number, range or step") from None
    if step < 1 or not (low <= first <= last <= high):
        raise ScheduleError(f"{name} {item!r} is outside {low}-{high}")
    return set(range(first, last + 1, step))


def checked_schedule(text: str) -> str:
    """A settings validator: the text unchanged when it parses."""
    parse_schedule(text)
    return text


Cron = Annotated[str, AfterValidator(checked_schedule)]


def next_run(schedule: Schedule, after: datetime, *, within_days: int = 400) -> datetime | None:
    """The first minute after `after` (a wall-clock time in the schedule's zone) that the
    schedule fires at, as arq judges it (every field must match); None within `within_days`."""

    def allows(allowed: frozenset[int] | None, value: int) -> bool:
        return allowed is None or value in allowed

    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for offset in range(within_days + 1):
        day = (start + timedelta(days=offset)).date()
        if not (
            allows(schedule.month, day.month)
            and allows(schedule.day, day.day)
            and allows(schedule.weekday, day.weekday())
        ):
            continue
        for hour in range(24):
            if not allows(schedule.hour, hour):
                continue
            for minute in range(60):
                moment = datetime.combine(day, time(hour, minute), tzinfo=after.tzinfo)
                if moment >= start and allows(schedule.minute, minute):
                    return moment
    return None
