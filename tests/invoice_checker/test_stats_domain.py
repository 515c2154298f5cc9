"""Pure invoice statistics and the month-over-month comparison, against the golden vectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_checker.domain.comparison import InvoiceFigures, compare
from invoice_checker.domain.stats import (
    AwsRow,
    FixedRow,
    HourTotals,
    IncorrectCounts,
    incorrect_lists,
    invoice_totals,
    is_counted,
    phase_sections,
)
from tests.invoice_checker.invoice_vectors import invoice_vectors


@dataclass
class Entry:
    """An hour entry as the stats read it; flags follow spec 1.5.1."""

    phase_name: str
    incurred_hours: float
    bill_rate: float
    status: str = "Approved"
    user_email: str | None = "alice@example.com"
    user_name: str | None = "Alice Admin"
    notes: str | None = "work"
    category: str = "Development"

    @property
    def incurred_money(self) -> float:
        return self.incurred_hours * self.bill_rate

    @property
    def calculated_is_billable(self) -> bool:
        return not self.phase_name.lower().startswith(("non-billable", "non billable"))

    @property
    def calculated_has_notes(self) -> bool:
        return bool(self.notes)

    @property
    def calculated_has_phase(self) -> bool:
        return self.phase_name != "[Non Phase Specific]"

    @property
    def calculated_is_approved(self) -> bool:
        return True

    @property
    def calculated_has_proper_price(self) -> bool:
        return 50 < self.bill_rate < 170

    @property
    def calculated_has_category(self) -> bool:
        return self.category not in {"No category", "[none]"}


# The vector's inputs name no bill rates; its expected phase sections show them (100 and 180).
RATES = [100.0, 100.0, 180.0, 100.0, 100.0]


def vector_entries() -> list[Entry]:
    case = invoice_vectors()["invoice_stats_with_fixed_and_aws"]
    entries = [
        Entry(row["phase_name"], row["hours"], rate, status=row["status"])
        for row, rate in zip(case["inputs"]["hour_entries"], RATES, strict=True)
    ]
    return [e for e in entries if is_counted(e.status, e.incurred_hours)]


def counts_of(entries: list[Entry]) -> IncorrectCounts:
    lists = incorrect_lists(entries)
    return IncorrectCounts(**{kind: len(found) for kind, found in lists.items()})


def test_combined_stats_match_the_vector_except_currency_mixing() -> None:
    case = invoice_vectors()["invoice_stats_with_fixed_and_aws"]
    expected = case["expected_calculate_entry_stats"]
    entries = vector_entries()
    hours = HourTotals(
        sum(e.incurred_hours for e in entries),
        sum(e.incurred_hours for e in entries if e.calculated_is_billable),
        sum(e.incurred_money for e in entries if e.calculated_is_billable),
    )
    fixed = [FixedRow(name, price) for name, price in case["inputs"]["project_fixed_entries"]]
    aws = [AwsRow("111111111111", "acme-webshop-prod", 8.7087, "USD")]
    totals = invoice_totals(hours, fixed, aws)

    assert len(entries) == expected["total_entries"]
    shown = [
        {"k": row.key, "description": row.description, "incurred_money": row.incurred_money}
        for row in totals.rows
    ]
    assert shown == [
        {key: row[key] for key in ("k", "description", "incurred_money")}
        for row in expected["total_rows_in_display_order"]
    ]
    hours_row = expected["total_rows_in_display_order"][0]
    assert totals.rows[0].bill_rate_avg == pytest.approx(hours_row["bill_rate_avg"])
    assert totals.rows[0].incurred_billable_hours == hours_row["incurred_billable_hours"]

    counts = counts_of(entries)
    for kind in ("billable_incorrect_price", "non_billable_hours", "no_category"):
        assert getattr(counts, kind) == expected[f"{kind}_count"]
    assert counts.total == expected["incorrect_entries_count"]

    row = case["expected_invoice_row_after_refresh"]
    assert totals.incurred_hours == row["incurred_hours"]
    assert totals.incurred_billable_hours == row["incurred_billable_hours"]
    assert totals.billable_percentage == pytest.approx(row["billable_percentage"])
    assert totals.bill_rate_avg == pytest.approx(row["bill_rate_avg"])
    # Bug 15.4 fixed on purpose: the vector adds 8.7087 USD to 2010 EUR (2018.7087).
    assert row["incurred_money"] == pytest.approx(2018.7087)
    assert totals.incurred_money == 2010.0
    assert totals.money_by_currency == {"EUR": 2010.0, "USD": 8.7087}


def test_phase_sections_match_the_vector() -> None:
    expected = invoice_vectors()["invoice_stats_with_fixed_and_aws"]
    expected_phases = expected["expected_calculate_entry_stats"]["phases"]
    sections = {s.name: s for s in phase_sections(vector_entries())}
    hour_sections = {k: v for k, v in expected_phases.items() if " - " in k}
    assert list(sections) == list(hour_sections)
    for name, want in hour_sections.items():
        got = sections[name]
        assert (got.billable, got.incurred_hours, got.incurred_money) == (
            want["billable"],
            want["incurred_hours"],
            want["incurred_money"],
        )
        for email, user in want["users"].items():
            for rate, sums in user["entries"].items():
                mine = got.users[email].rates[float(rate)]
                assert (mine.incurred_hours, mine.incurred_money) == (
                    sums["incurred_hours"],
                    sums["incurred_money"],
                )


def test_no_category_is_counted_in_its_own_count() -> None:
    """Bug 15.3: the original summed no-category entries into the total but stored 0."""
    entries = [Entry("Development", 2, 100, category="No category")]
    counts = counts_of(entries)
    assert counts.no_category == 1
    assert counts.total == 1


def test_an_entry_in_several_lists_counts_once_per_list() -> None:
    entries = [Entry("[Non Phase Specific]", 1, 0, notes="", category="[none]")]
    counts = counts_of(entries)
    assert counts == IncorrectCounts(
        billable_incorrect_price=1, non_phase_specific=1, empty_descriptions=1, no_category=1
    )
    assert counts.total == 4


def test_an_invoice_without_hours_has_zero_ratios() -> None:
    totals = invoice_totals(HourTotals(), [FixedRow("Licence", 300.0)])
    assert (totals.bill_rate_avg, totals.billable_percentage) == (0.0, 0.0)
    assert totals.rows[0].bill_rate_avg is None
    assert totals.incurred_money == 300.0


def test_unsubmitted_and_empty_entries_do_not_count() -> None:
    assert is_counted("Pending Approval", 0.5)
    assert not is_counted("Unsubmitted", 8)
    assert not is_counted("Approved", 0)


def _figures(values: dict[str, Any]) -> InvoiceFigures:
    return InvoiceFigures(
        values["incurred_hours"], values["bill_rate_avg"], values["incurred_money"]
    )


@pytest.mark.parametrize("case", invoice_vectors()["invoice_compare"])
def test_comparison_matches_the_vector(case: dict[str, Any]) -> None:
    result = compare(_figures(case["previous_month_invoice"]), _figures(case["this_month_invoice"]))
    expected = case["expected"]
    assert result.remarkable is expected["remarkable"]
    for name, got in (("hours", result.hours), ("bill_rate_avg", result.bill_rate_avg)):
        want = expected[name]
        assert (got.previous, got.current) == (want["this_value"], want["other_value"])
        assert got.diff == pytest.approx(want["diff"])
        if want["percentage"] is None:
            assert got.percentage is None
        else:
            assert got.percentage == pytest.approx(want["percentage"])
    assert result.money.diff == pytest.approx(expected["money"]["diff"])


amounts = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(amounts, amounts, amounts, amounts, amounts, amounts)
def test_comparison_never_divides_by_zero_and_is_symmetric_in_size(
    h1: float, r1: float, m1: float, h2: float, r2: float, m2: float
) -> None:
    result = compare(InvoiceFigures(h1, r1, m1), InvoiceFigures(h2, r2, m2))
    back = compare(InvoiceFigures(h2, r2, m2), InvoiceFigures(h1, r1, m1))
    assert result.hours.diff == -back.hours.diff
    assert (result.hours.percentage is None) == (h1 == 0)
    # The bill-rate rule ignores a zero on either side.
    if 0 in (r1, r2) and result.remarkable:
        assert abs(h2 - h1) > 10 or abs(m2 - m1) > 2000


def test_an_entry_10000ft_named_no_user_for_is_listed_under_an_empty_email() -> None:
    """The store's user columns are nullable; the invoice page's phase users need an email
    string (an entry without one made the invoice detail answer 500)."""
    sections = phase_sections([Entry("Development", 2.0, 100.0, user_email=None, user_name=None)])
    assert list(sections[0].users) == [""]
    assert sections[0].users[""].user_name is None
