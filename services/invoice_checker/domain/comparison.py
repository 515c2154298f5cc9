"""Month-over-month comparison of an invoice with the previous month's (spec 2.7)."""

from __future__ import annotations

from dataclasses import dataclass

# Thresholds of a "remarkable" change, which asks the checker for one more tick.
HOURS_LIMIT = 10.0
BILL_RATE_LIMIT = 5.0
MONEY_LIMIT = 2000.0
PERCENT_LIMIT = 25.0


@dataclass(frozen=True, slots=True)
class InvoiceFigures:
    incurred_hours: float
    bill_rate_avg: float
    incurred_money: float


@dataclass(frozen=True, slots=True)
class Change:
    previous: float
    current: float
    diff: float
    percentage: float | None  # null when the previous value is 0


@dataclass(frozen=True, slots=True)
class Comparison:
    hours: Change
    bill_rate_avg: Change
    money: Change
    remarkable: bool


def change(previous: float | None, current: float | None) -> Change:
    before, now = previous or 0.0, current or 0.0
    diff = now - before
    return Change(before, now, diff, diff / before * 100 if before else None)


def _large(item: Change, limit: float) -> bool:
    big_percent = item.percentage is None or abs(item.percentage) > PERCENT_LIMIT
    return abs(item.diff) > limit and big_percent


def compare(previous: InvoiceFigures, current: InvoiceFigures) -> Comparison:
    hours = change(previous.incurred_hours, current.incurred_hours)
    rate = change(previous.bill_rate_avg, current.bill_rate_avg)
    money = change(previous.incurred_money, current.incurred_money)
    rate_moved = abs(rate.diff) > BILL_RATE_LIMIT and rate.previous > 0 and rate.current > 0
    remarkable = _large(hours, HOURS_LIMIT) or rate_moved or _large(money, MONEY_LIMIT)
    return Comparison(hours, rate, money, remarkable)
