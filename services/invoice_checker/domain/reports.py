"""Report rules (spec 7) as pure functions: billing ratio, sick-leave early care, client FTEs,
the front page's wording and smoothing. The store feeds them sums; they do no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

WORKDAY_HOURS = 7.5
EMPLOYEE_MONTHLY_HOURS = 37.5  # a person counts as an employee of a month from this many hours
LARGE_ACCOUNT_MONEY = 300_000.0
SICK_LEAVE_SHORT_PERIOD_LIMIT = 3
SICK_LEAVE_LONG_PERIOD_LIMIT = 20
SICK_LEAVE_LONG_WINDOW_DAYS = 365
SICK_LEAVE_SHORT_WINDOW_DAYS = 120
SICK_PERIOD_GAP_DAYS = 5  # more days than this between sick days starts a new period


def billing_ratio(billable_hours: float, non_billable_hours: float) -> float | None:
    """Billable share of all hours in percent; None without hours (shown as "?")."""
    total = billable_hours + non_billable_hours
    return billable_hours / total * 100 if total else None


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class SickPeriod:
    first: date
    last: date

    @property
    def num_days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class SickLeaveSummary:
    long: int  # sick days in the last 365 days
    periods: list[SickPeriod] = field(default_factory=list)  # within the last 120 days

    @property
    def short(self) -> int:
        return len(self.periods)

    @property
    def exceeding(self) -> bool:
        return (
            self.short > SICK_LEAVE_SHORT_PERIOD_LIMIT or self.long > SICK_LEAVE_LONG_PERIOD_LIMIT
        )


def sick_leave_summary(sick_days: Iterable[date], today: date) -> SickLeaveSummary:
    """Early-care figures of one person from the dates they were on sick leave (spec 7.2)."""
    since = today - timedelta(days=SICK_LEAVE_LONG_WINDOW_DAYS)
    days = sorted({day for day in sick_days if day >= since})
    short_start = today - timedelta(days=SICK_LEAVE_SHORT_WINDOW_DAYS)
    periods: list[SickPeriod] = []
    for day in (d for d in days if d > short_start):
        if periods and (day - periods[-1].last).days <= SICK_PERIOD_GAP_DAYS:
            periods[-1] = SickPeriod(periods[-1].first, day)
        else:
            periods.append(SickPeriod(day, day))
    return SickLeaveSummary(long=len(days), periods=periods)


def last_marking_text(last: date | None, today: date) -> str:
    if last is None:
        return "No entries"
    days = (today - last).days
    if days < 0:
        return "in the future"
    return {0: "today", 1: "yesterday", 2: "day before yesterday"}.get(days, f"{days} days ago")


def weekdays(first: date, last: date) -> list[date]:
    count = (last - first).days + 1
    return [d for d in (first + timedelta(days=i) for i in range(count)) if d.weekday() < 5]


@dataclass(frozen=True, slots=True)
class ClientMonth:
    month: str
    total_days: int
    active_days: int
    people_sum: int
    hours_sum: float

    @property
    def workdays_fte_avg(self) -> float | None:
        return ratio(self.hours_sum, self.total_days * WORKDAY_HOURS)

    @property
    def workdays_people_avg(self) -> float | None:
        return ratio(self.people_sum, self.total_days)

    @property
    def active_days_fte_avg(self) -> float | None:
        return ratio(self.hours_sum, self.active_days * WORKDAY_HOURS)

    @property
    def active_days_people_avg(self) -> float | None:
        return ratio(self.people_sum, self.active_days)


def client_months(
    per_day: Mapping[date, tuple[int, float]], months: Sequence[tuple[date, date]]
) -> list[ClientMonth]:
    """Per-month client figures (spec 7.4) from (people, hours) per weekday, newest month first.
    `months` are (first, last) day pairs already clipped to the report's range."""
    result = []
    for first, last in months:
        days = weekdays(first, last)
        active = [per_day[d] for d in days if d in per_day and all(per_day[d])]
        result.append(
            ClientMonth(
                month=first.strftime("%Y-%m"),
                total_days=len(days),
                active_days=len(active),
                people_sum=sum(people for people, _ in active),
                hours_sum=sum(hours for _, hours in active),
            )
        )
    return sorted(result, key=lambda m: m.month, reverse=True)


def smoothed_daily_ratio(
    daily: Mapping[date, tuple[float, float]], today: date, days: int = 95, block: int = 5
) -> list[float]:
    """The front page's ratio curve: per day billable %, carried forward over days without
    hours, averaged over a sliding block of days; the last `days - block` values."""
    values: list[float] = []
    current = 0.0
    for offset in range(days, 0, -1):
        day = today - timedelta(days=offset)
        billable, non_billable = daily.get(day, (0.0, 0.0))
        day_ratio = billing_ratio(billable, non_billable)
        if day_ratio is not None:
            current = day_ratio
        values.append(current)
    averages = [sum(values[i : i + block]) / block for i in range(len(values) - block + 1)]
    return averages[-(days - block) :]


def month_starts(first: date, last: date) -> list[date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def month_label(month: date) -> str:
    """The company charts' labels: `Y-M`, not zero-padded (spec 7.3)."""
    return f"{month.year}-{month.month}"
