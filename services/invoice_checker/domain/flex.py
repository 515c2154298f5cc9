"""Flex-time saldo (Finnish flex hours) and the KIKY deduction, as pure functions.

Ported rule for rule from the original's `calculate_flex_saldo` and `calculate_kiky_stats`:
every weekday expects `7.5 h × worktime%`, worked hours, paid leave and unpaid leave count
towards it, "Flex time Leave" deliberately does not, and the final saldo adds
`min(0, KIKY hours done − KIKY deduction)`. Today's entries never count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from invoice_checker.domain.entry_status import EntryStatus

WORKDAY_HOURS = 7.5
FLEX_MAX_MINUS = -40.0
FLEX_MAX_PLUS = 120.0

PROJECT_LEAVE_TYPE = "[project]"
FLEX_TIME_LEAVE = "Flex time Leave"
UNPAID_LEAVE = "Unpaid leave"
KIKY_PROJECT = "KIKY - Make Finland Great again"
# KIKY hours count from September 2017; the monthly deduction starts in November 2017.
KIKY_HOURS_FROM = date(2017, 9, 1)
KIKY_DEDUCTION_FROM = date(2017, 11, 1)
KIKY_HOURS_PER_MONTH = 2.0

# Outputs are rounded like the golden vectors, so float noise never shows.
DECIMALS = 6


class FlexError(Exception):
    """The saldo cannot be computed from these inputs; the message says why."""


class NoContractError(FlexError):
    """A day that must be processed has no work contract (or there are no contracts at all)."""

    def __init__(self, message: str, day: date | None = None) -> None:
        super().__init__(message)
        self.day = day


@dataclass(frozen=True)
class Contract:
    start_date: date
    end_date: date
    flex_enabled: bool = True
    worktime_percent: int = 100

    @property
    def workday_length(self) -> float:
        return self.worktime_percent / 100 * WORKDAY_HOURS

    def covers(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date


@dataclass(frozen=True)
class Correction:
    """A manual saldo correction: `set_to` restarts the saldo, `adjust_by` adds to it."""

    date: date
    adjust_by: float | None = None
    set_to: float | None = None


@dataclass(frozen=True)
class HourEntry:
    """The fields of a 10000ft hour entry that flex needs."""

    date: date
    hours: float
    project_name: str
    leave_type: str
    phase_name: str
    status: str


@dataclass
class DayHours:
    """One day's entries, summed into the four kinds flex tells apart."""

    working: float = 0.0
    leave: float = 0.0
    unpaid: float = 0.0
    overtime: float = 0.0


@dataclass(frozen=True)
class FlexInputs:
    contracts: Sequence[Contract]
    corrections: Sequence[Correction]
    holidays: Mapping[date, str]
    entries: Sequence[HourEntry]
    today: date
    flex_last_day: date | None = None
    ignore_events: bool = False
    person: str | None = None


@dataclass(frozen=True)
class Kiky:
    hours_done: float
    deduction: float
    eligible_months: int
    unused_hours: float
    saldo: float


@dataclass
class MonthSummary:
    month: str
    leave: float = 0.0
    worktime: float = 0.0
    expected_worktime: float = 0.0
    cumulative_saldo: float = 0.0
    overtime: float = 0.0
    # Never incremented, as in the original (its vectors always show 0).
    unpaid_leaves: float = 0.0

    @property
    def diff(self) -> float:
        return self.worktime + self.leave - self.expected_worktime


@dataclass
class FlexResult:
    flex_saldo: float
    kiky: Kiky
    months: list[MonthSummary]
    daily_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cumulative_saldo(self) -> float:
        return self.flex_saldo + self.kiky.saldo


def is_overtime(phase_name: str) -> bool:
    return "overtime" in (phase_name or "").lower()


def counts_for_flex(entry: HourEntry) -> bool:
    return entry.status != EntryStatus.UNSUBMITTED


def day_totals(entries: Iterable[HourEntry]) -> dict[date, DayHours]:
    """Sum each day's counted entries into working, paid leave, unpaid leave and overtime."""
    days: dict[date, DayHours] = {}
    for entry in entries:
        if not counts_for_flex(entry):
            continue
        day = days.setdefault(entry.date, DayHours())
        overtime = is_overtime(entry.phase_name)
        if overtime:
            day.overtime += entry.hours
        elif entry.leave_type == PROJECT_LEAVE_TYPE and entry.project_name != KIKY_PROJECT:
            day.working += entry.hours
        if entry.leave_type == UNPAID_LEAVE:
            day.unpaid += entry.hours
        elif entry.leave_type not in (PROJECT_LEAVE_TYPE, FLEX_TIME_LEAVE):
            day.leave += entry.hours
    return days


def kiky_hours_done(entries: Iterable[HourEntry]) -> float:
    """KIKY hours since 2017-09-01, with no upper bound (future entries count too)."""
    return sum(
        entry.hours
        for entry in entries
        if counts_for_flex(entry)
        and entry.project_name == KIKY_PROJECT
        and entry.date >= KIKY_HOURS_FROM
    )


def fetch_contract(contracts: Sequence[Contract], day: date) -> Contract | None:
    """The first contract, by start date, that covers the day."""
    return next((c for c in contracts if c.covers(day)), None)


def start_point(inputs: FlexInputs, contracts: Sequence[Contract]) -> tuple[date, float]:
    """The latest `set_to` correction, else the first contract's start with saldo 0."""
    chosen: Correction | None = None
    if not inputs.ignore_events:
        for correction in sorted(inputs.corrections, key=lambda c: c.date):
            if correction.set_to is None:
                continue
            # The original compared the current pick by truthiness: a 0 is always replaced.
            if chosen is None or not chosen.set_to or correction.date > chosen.date:
                chosen = correction
    if chosen is not None and chosen.set_to is not None:
        return chosen.date, float(chosen.set_to)
    if not contracts:
        raise NoContractError("Unable to find the first contract")
    return contracts[0].start_date, 0.0


def no_contract(day: date, person: str | None) -> NoContractError:
    who = f" for {person}" if person else ""
    return NoContractError(f"Hour markings for {day.isoformat()}{who}, but no contract.", day)


def saldo_band(saldo: float) -> Literal["below", "above"] | None:
    """Where a saldo stands against the band: "below" −40 h (shown red), "above" 120 h (shown
    yellow), or None inside it."""
    if saldo < FLEX_MAX_MINUS:
        return "below"
    return "above" if saldo > FLEX_MAX_PLUS else None


def is_active(inputs: FlexInputs) -> bool:
    """Whether a contract covers the last day flex is computed for (the `only_active` check)."""
    last = inputs.flex_last_day or inputs.today - timedelta(days=1)
    return fetch_contract(sorted(inputs.contracts, key=lambda c: c.start_date), last) is not None


def calculate_flex_saldo(inputs: FlexInputs) -> FlexResult:
    """Run the daily loop from the start point to the last day; raise NoContractError on a gap."""
    contracts = sorted(inputs.contracts, key=lambda c: c.start_date)
    flex_last_day = inputs.flex_last_day or inputs.today - timedelta(days=1)
    start, saldo = start_point(inputs, contracts)
    corrections = [] if inputs.ignore_events else inputs.corrections
    adjustments: dict[date, list[float]] = {}
    for correction in sorted(corrections, key=lambda c: c.date):
        if correction.adjust_by:
            adjustments.setdefault(correction.date, []).append(float(correction.adjust_by))

    days = day_totals(e for e in inputs.entries if start <= e.date < inputs.today)
    last = flex_last_day
    if days and contracts:
        last = min(max(max(days), max(c.end_date for c in contracts)), flex_last_day)

    log: list[dict[str, Any]] = []
    months: dict[str, MonthSummary] = {}
    day = start
    while day <= last:
        for adjust_by in adjustments.get(day, ()):
            saldo += adjust_by
            log.append({"date": day.isoformat(), "sum": adjust_by, "cumulative_saldo": saldo})
        contract = fetch_contract(contracts, day)
        if contract is None:
            raise no_contract(day, inputs.person)
        month = months.setdefault(day.strftime("%Y-%m"), MonthSummary(day.strftime("%Y-%m")))
        row, day_sum = process_day(day, contract, inputs.holidays, days.get(day), month)
        saldo += day_sum
        month.cumulative_saldo = saldo
        log.append({**row, "sum": day_sum, "cumulative_saldo": saldo})
        day += timedelta(days=1)

    kiky = kiky_stats(contracts, kiky_hours_done(inputs.entries), start, last)
    return FlexResult(flex_saldo=saldo, kiky=kiky, months=list(months.values()), daily_log=log)


def process_day(
    day: date,
    contract: Contract,
    holidays: Mapping[date, str],
    hours: DayHours | None,
    month: MonthSummary,
) -> tuple[dict[str, Any], float]:
    """One day's log row (without sum and saldo) and its saldo change; updates the month."""
    expected = 0.0
    weekday = day.weekday() < 5
    holiday = holidays.get(day) if weekday else None
    if not weekday:
        day_type = "Weekend"
    elif holiday is not None:
        day_type = f"Public holiday: {holiday}"
    else:
        day_type = "Weekday"
        if contract.flex_enabled:
            expected = contract.workday_length
    month.expected_worktime += expected
    expected_today = expected
    extra: dict[str, float] = {}
    credited = 0.0
    if contract.flex_enabled and hours is not None:
        if hours.working:
            extra["worktime"] = hours.working
            month.worktime += hours.working
        if hours.leave > 0 and weekday and holiday is None:
            extra["leave"] = hours.leave
            month.leave += hours.leave
        if hours.unpaid > 0:
            # Unpaid leave lowers what was expected; on weekends and holidays too (a kept quirk).
            extra["unpaid_leaves"] = hours.unpaid
            expected_today -= hours.unpaid
            month.expected_worktime -= hours.unpaid
        if hours.overtime > 0:
            extra["overtime"] = hours.overtime
            month.overtime += hours.overtime
        credited = extra.get("worktime", 0.0) + extra.get("leave", 0.0) + hours.unpaid
    row = {
        "date": day.isoformat(),
        "day_type": day_type,
        "expected_hours_today": expected_today,
        "flex_enabled": contract.flex_enabled,
        "worktime_percent": contract.worktime_percent,
        **extra,
    }
    return row, credited - expected


def month_starts(first: date, last: date) -> list[date]:
    months = []
    current = first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return months


def kiky_stats(contracts: Sequence[Contract], hours_done: float, start: date, last: date) -> Kiky:
    """2 h × worktime% per month from Nov 2017 whose 1st day has a flex-enabled contract."""
    months = month_starts(max(KIKY_DEDUCTION_FROM, start.replace(day=1)), last)
    deduction = 0.0
    for month in months:
        contract = fetch_contract(contracts, month)
        if contract is not None and contract.flex_enabled:
            deduction += KIKY_HOURS_PER_MONTH * contract.worktime_percent / 100
    return Kiky(
        hours_done=hours_done,
        deduction=deduction,
        eligible_months=len(months),
        unused_hours=max(0.0, hours_done - deduction),
        saldo=min(0.0, hours_done - deduction),
    )


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def month_row(month: MonthSummary) -> dict[str, Any]:
    return {
        "month": month.month,
        "leave": month.leave,
        "worktime": month.worktime,
        "expected_worktime": month.expected_worktime,
        "diff": month.diff,
        "cumulative_saldo": month.cumulative_saldo,
        "overtime": month.overtime,
        "unpaid_leaves": month.unpaid_leaves,
    }


def result_document(result: FlexResult) -> dict[str, Any]:
    """The JSON shape the CLI prints and the API answers: months newest first, log oldest first."""
    kiky = result.kiky
    document: dict[str, Any] = rounded(
        {
            "cumulative_saldo": result.cumulative_saldo,
            "flex_saldo": result.flex_saldo,
            "kiky": {
                "hours_done": kiky.hours_done,
                "deduction": kiky.deduction,
                "eligible_months": kiky.eligible_months,
                "unused_hours": kiky.unused_hours,
                "saldo": kiky.saldo,
            },
            "monthly_summary": [month_row(m) for m in reversed(result.months)],
            "daily_log": result.daily_log,
        }
    )
    return document


def parse_inputs(document: Mapping[str, Any]) -> FlexInputs:
    """Build inputs from the JSON shape of a scenario's `inputs` plus `today` (CLI and tests).

    Raises ValueError (or KeyError/TypeError) on malformed input; callers turn it into one message.
    """
    return FlexInputs(
        contracts=[
            Contract(
                start_date=date.fromisoformat(c["start_date"]),
                end_date=date.fromisoformat(c["end_date"]),
                flex_enabled=_boolean(c.get("flex_enabled", True), "flex_enabled"),
                worktime_percent=int(c.get("worktime_percent", 100)),
            )
            for c in document.get("contracts", [])
        ],
        corrections=[
            Correction(
                date=date.fromisoformat(c["date"]),
                adjust_by=_optional_float(c.get("adjust_by")),
                set_to=_optional_float(c.get("set_to")),
            )
            for c in document.get("flex_time_corrections", [])
        ],
        holidays={
            date.fromisoformat(h["date"]): str(h["name"])
            for h in document.get("public_holidays", [])
        },
        entries=[
            HourEntry(
                date=date.fromisoformat(e["date"]),
                hours=_number(e["hours"], "hours"),
                project_name=str(e.get("project_name") or ""),
                leave_type=str(e.get("leave_type") or PROJECT_LEAVE_TYPE),
                phase_name=str(e.get("phase_name") or ""),
                status=str(e.get("status") or ""),
            )
            for e in document.get("hour_entries", [])
        ],
        today=date.fromisoformat(document["today"]),
        flex_last_day=(
            date.fromisoformat(document["flex_last_day"]) if document.get("flex_last_day") else None
        ),
        ignore_events=_boolean(document.get("ignore_events", False), "ignore_events"),
        person=document.get("person"),
    )


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, not {value!r}")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not math.isfinite(number := float(value)):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return number


def _optional_float(value: Any) -> float | None:
    return None if value is None else _number(value, "a correction")


# Contract checks look at hour entries from this date on (the flex era of the original).
CONTRACT_CHECKS_FROM = date(2017, 10, 1)


def contract_problems(
    who: str,
    contracts: Sequence[Contract],
    corrections: Sequence[Correction],
    entry_dates: Iterable[date],
) -> list[str]:
    """What keeps one person's flex saldo from being computed, in words for the admins.

    Everything is judged against the person's own contracts (the original checked entry dates
    against anybody's contracts and crashed for people without a `set_to`, 15.13).
    """
    problems: list[str] = []
    dates = sorted({d for d in entry_dates if d >= CONTRACT_CHECKS_FROM})
    if not contracts:
        if corrections:
            problems.append(f"Flex corrections for {who}, who has no contracts")
        if dates:
            problems.append(f"No contract for {who} ({dates[0].isoformat()})")
        return problems
    starts = [c.date for c in corrections if c.set_to is not None]
    counted_from = max(starts) if starts else date.min
    for correction in corrections:
        outside = not any(c.covers(correction.date) for c in contracts)
        if correction.adjust_by and correction.date >= counted_from and outside:
            problems.append(
                f"Flex correction of {correction.adjust_by:+.2f}h on "
                f"{correction.date.isoformat()} for {who} is outside every contract"
            )
    uncovered = [d for d in dates if not any(c.covers(d) for c in contracts)]
    if uncovered:
        problems.append(
            f"Hour entries of {who} on {len(uncovered)} days outside their contracts "
            f"(first {uncovered[0].isoformat()})"
        )
    return problems
