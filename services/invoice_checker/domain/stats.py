"""Invoice statistics (spec 2.3-2.6) as pure functions.

The per-invoice sums over hour entries run in SQL (store/invoice_stats.py); this module holds the
rules around them: which entries count, which are "incorrect", how hours, fixed rows and AWS rows
combine into total rows, and the derived ratios. Currencies are never added together (bug 15.4):
each currency has its own total, and `incurred_money` is the euro total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from invoice_checker.domain.entry_status import EntryStatus

HOME_CURRENCY = "EUR"


class EntryFacts(Protocol):
    """What the stats read from an hour entry (the store's rows satisfy this)."""

    @property
    def user_email(self) -> str | None: ...
    @property
    def user_name(self) -> str | None: ...
    @property
    def incurred_hours(self) -> float: ...
    @property
    def incurred_money(self) -> float: ...
    @property
    def bill_rate(self) -> float: ...
    @property
    def phase_name(self) -> str: ...
    @property
    def calculated_is_billable(self) -> bool: ...
    @property
    def calculated_has_notes(self) -> bool: ...
    @property
    def calculated_has_phase(self) -> bool: ...
    @property
    def calculated_is_approved(self) -> bool: ...
    @property
    def calculated_has_proper_price(self) -> bool: ...
    @property
    def calculated_has_category(self) -> bool: ...


E = TypeVar("E", bound=EntryFacts)


def is_counted(status: str, hours: float) -> bool:
    """Entries an invoice counts (spec 2.2): submitted or approved, with hours."""
    return status != EntryStatus.UNSUBMITTED and hours > 0


# The incorrect-entry lists, in display order. An entry may be in several.
INCORRECT_KINDS = (
    "billable_incorrect_price",
    "non_billable_hours",
    "non_phase_specific",
    "not_approved_hours",
    "empty_descriptions",
    "no_category",
)


def incorrect_kinds(entry: EntryFacts) -> list[str]:
    """The incorrect-entry lists the entry is in, in INCORRECT_KINDS order. Plain tests, no
    dict per call: an invoice page runs this over every one of up to thousands of entries."""
    billable = entry.calculated_is_billable
    kinds = []
    if billable and not entry.calculated_has_proper_price:
        kinds.append("billable_incorrect_price")
    if not billable:
        kinds.append("non_billable_hours")
    if not entry.calculated_has_phase:
        kinds.append("non_phase_specific")
    if not entry.calculated_is_approved:
        kinds.append("not_approved_hours")
    if not entry.calculated_has_notes:
        kinds.append("empty_descriptions")
    if not entry.calculated_has_category:
        kinds.append("no_category")
    return kinds


@dataclass(frozen=True, slots=True)
class IncorrectCounts:
    billable_incorrect_price: int = 0
    non_billable_hours: int = 0
    non_phase_specific: int = 0
    not_approved_hours: int = 0
    empty_descriptions: int = 0
    no_category: int = 0

    @property
    def total(self) -> int:
        """The sum of the six counts (no_category included, bug 15.3), one entry possibly twice."""
        return sum(getattr(self, kind) for kind in INCORRECT_KINDS)


def incorrect_lists(entries: Iterable[E]) -> dict[str, list[E]]:
    lists: dict[str, list[E]] = {kind: [] for kind in INCORRECT_KINDS}
    for entry in entries:
        for kind in incorrect_kinds(entry):
            lists[kind].append(entry)
    return lists


@dataclass(frozen=True, slots=True)
class HourTotals:
    hours: float = 0.0
    billable_hours: float = 0.0
    billable_money: float = 0.0


@dataclass(frozen=True, slots=True)
class FixedRow:
    description: str
    price: float
    currency: str = HOME_CURRENCY


@dataclass(frozen=True, slots=True)
class AwsRow:
    account_id: str
    account_name: str
    price: float
    currency: str


@dataclass(frozen=True, slots=True)
class TotalRow:
    key: str
    description: str
    currency: str
    incurred_money: float
    incurred_hours: float | None = None
    incurred_billable_hours: float | None = None
    bill_rate_avg: float | None = None


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    rows: list[TotalRow]
    money_by_currency: dict[str, float]
    incurred_hours: float
    incurred_billable_hours: float
    billable_percentage: float  # a 0..1 fraction
    bill_rate_avg: float  # euro money of billable hours per hour, all hours counted

    @property
    def incurred_money(self) -> float:
        return self.money_by_currency.get(HOME_CURRENCY, 0.0)


def bill_rate_avg(money: float, hours: float) -> float | None:
    return money / hours if hours else None


def billable_percentage(billable_hours: float, hours: float) -> float:
    return billable_hours / hours if hours else 0.0


def invoice_totals(
    hours: HourTotals, fixed: Sequence[FixedRow] = (), aws: Sequence[AwsRow] = ()
) -> InvoiceTotals:
    """Total rows in display order (hours, fixed, one per AWS currency) and per-currency sums."""
    rows = [
        TotalRow(
            key="hours",
            description="Hour markings",
            currency=HOME_CURRENCY,
            incurred_money=hours.billable_money,
            incurred_hours=hours.hours,
            incurred_billable_hours=hours.billable_hours,
            bill_rate_avg=bill_rate_avg(hours.billable_money, hours.hours),
        )
    ]
    for currency, total in _sum_by_currency((row.currency, row.price) for row in fixed).items():
        key = "fixed" if currency == HOME_CURRENCY else f"fixed_{currency}"
        rows.append(TotalRow(key, "Fixed rows", currency, total))
    for currency, total in _sum_by_currency((row.currency, row.price) for row in aws).items():
        rows.append(TotalRow(f"aws_{currency}", f"Amazon billing ({currency})", currency, total))
    money = _sum_by_currency((row.currency, row.incurred_money) for row in rows)
    return InvoiceTotals(
        rows=rows,
        money_by_currency=money,
        incurred_hours=hours.hours,
        incurred_billable_hours=hours.billable_hours,
        billable_percentage=billable_percentage(hours.billable_hours, hours.hours),
        bill_rate_avg=bill_rate_avg(hours.billable_money, hours.hours) or 0.0,
    )


def _sum_by_currency(amounts: Iterable[tuple[str, float]]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for currency, amount in amounts:
        sums[currency] = sums.get(currency, 0.0) + amount
    return sums


@dataclass(slots=True)
class UserRateSum:
    incurred_hours: float = 0.0
    incurred_money: float = 0.0


@dataclass(slots=True)
class PhaseUser:
    user_name: str | None
    rates: dict[float, UserRateSum] = field(default_factory=dict)


@dataclass(slots=True)
class PhaseSection:
    """One phase at one bill rate: "Development - 100.0" and "Development - 180.0" are two."""

    name: str
    phase_name: str
    bill_rate: float
    billable: bool
    incurred_hours: float = 0.0
    incurred_money: float = 0.0  # billable entries only; per-user money includes all
    users: dict[str, PhaseUser] = field(default_factory=dict)


def section_name(phase_name: str, bill_rate: float) -> str:
    return f"{phase_name} - {float(bill_rate)!r}"


def phase_sections(entries: Iterable[EntryFacts]) -> list[PhaseSection]:
    """Hours grouped into phase sections in the order first seen (entries come date-ordered)."""
    # Keyed by (phase, rate), which names the section: the name is formatted once per section.
    sections: dict[tuple[str, float], PhaseSection] = {}
    for entry in entries:
        key = (entry.phase_name, float(entry.bill_rate))
        section = sections.get(key)
        if section is None:
            section = sections[key] = PhaseSection(
                section_name(*key), entry.phase_name, entry.bill_rate, entry.calculated_is_billable
            )
        section.incurred_hours += entry.incurred_hours
        if entry.calculated_is_billable:
            section.incurred_money += entry.incurred_money
        # get-then-add, not setdefault: that would build a discarded object per entry. An entry
        # whose user 10000ft did not name is listed under "" (was None: a 500 on the page).
        email = entry.user_email or ""
        user = section.users.get(email)
        if user is None:
            user = section.users[email] = PhaseUser(entry.user_name)
        rate = user.rates.get(entry.bill_rate)
        if rate is None:
            rate = user.rates[entry.bill_rate] = UserRateSum()
        rate.incurred_hours += entry.incurred_hours
        rate.incurred_money += entry.incurred_money
    return list(sections.values())


def hour_totals(entries: Iterable[EntryFacts]) -> HourTotals:
    """The same sums the SQL refresh computes, for in-memory entry lists (reports, tests)."""
    sums: defaultdict[str, float] = defaultdict(float)
    for entry in entries:
        sums["hours"] += entry.incurred_hours
        if entry.calculated_is_billable:
            sums["billable_hours"] += entry.incurred_hours
            sums["billable_money"] += entry.incurred_money
    return HourTotals(sums["hours"], sums["billable_hours"], sums["billable_money"])
