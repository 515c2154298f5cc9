"""Pure parts of the sync: lenient parsing, the calculated flags, date ranges."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_checker.domain import tenkfeet_mapping as mapping
from invoice_checker.domain.date_ranges import InvalidRange, check_range, months_in, split_range
from invoice_checker.domain.hour_flags import is_phase_billable

CONTEXT = mapping.MappingContext(
    users={7: mapping.LocalUser(uuid.UUID(int=7), "u@example.com", "U", None, "Dev")},
    project_guids={100: uuid.UUID(int=100)},
    leave_project_guid=uuid.UUID(int=1),
    assignables=mapping.assignables(
        [
            {"id": 100, "name": "Web", "client": None, "parent_id": None},
            {"id": 101, "name": "Web", "parent_id": 100, "phase_name": "Overtime fixes"},
        ]
    ),
    leave_types={9001: "Sick leave"},
)


def entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 1,
        "user_id": 7,
        "assignable_id": 101,
        "assignable_type": "Project",
        "date": "2018-02-05",
        "hours": 2,
        "bill_rate": 100,
        "notes": " ",
        "task": "No category",
        "created_at": "2018-02-01T11:00:00Z",
        "updated_at": "2018-02-01T12:00:00Z",
        "approvals": {"data": [{"id": 5, "approved_at": None, "submitted_by": 3}]},
    }
    return base | changes


def test_integers_and_numeric_text_are_accepted_and_extra_keys_ignored() -> None:
    row = mapping.hour_row(entry(hours="1.5", bill_rate=120, unknown_key=[1]), CONTEXT)
    assert (row.incurred_hours, row.bill_rate, row.incurred_money) == (1.5, 120.0, 180.0)
    assert (row.project, row.client, row.phase_name) == ("Web", "[none]", "Overtime fixes")
    assert row.status == "Pending Approval"
    assert (row.calculated_is_overtime, row.calculated_has_notes) == (True, True)
    assert row.calculated_has_category is False
    assert row.submitted_by == "3"


def test_leave_entries_are_money_free_and_on_the_leave_project() -> None:
    row = mapping.hour_row(entry(assignable_type="LeaveType", assignable_id=9001), CONTEXT)
    assert (row.project, row.leave_type, row.bill_rate, row.incurred_money) == (
        "[Leave Type]",
        "Sick leave",
        0.0,
        0.0,
    )
    assert row.project_guid == CONTEXT.leave_project_guid
    assert row.calculated_is_billable is True  # the original's quirk, kept (15.2)


def test_unknown_user_gives_a_row_without_user_and_unknown_project_raises() -> None:
    row = mapping.hour_row(entry(user_id=99), CONTEXT)
    assert (row.user_guid, row.user_email, row.discipline) == (None, None, "[none]")
    with pytest.raises(mapping.MissingProject):
        mapping.hour_row(entry(assignable_id=555), CONTEXT)


@pytest.mark.parametrize(
    "changes",
    [{"date": "1999-12-31"}, {"hours": -1}, {"bill_rate": "cheap"}, {"date": None}, {"id": "x"}],
)
def test_unreadable_entries_raise_invalid_record(changes: dict[str, Any]) -> None:
    with pytest.raises(mapping.InvalidRecord):
        mapping.hour_row(entry(**changes), CONTEXT)


junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12), st.lists(st.none())
)


@given(st.dictionaries(st.sampled_from(sorted(entry())), junk))
def test_any_junk_is_either_mapped_or_an_invalid_record(changes: dict[str, Any]) -> None:
    try:
        row = mapping.hour_row(entry(**changes), CONTEXT)
    except mapping.InvalidRecord:
        return
    assert row.incurred_hours >= 0 and row.bill_rate >= 0


@given(st.dictionaries(st.sampled_from(["email", "id", "guid", "billability_target"]), junk))
def test_user_parsing_is_lenient_but_never_crashes(changes: dict[str, Any]) -> None:
    record = {"id": 1, "guid": str(uuid.UUID(int=3)), "email": "A@B.C"} | changes
    try:
        row = mapping.user_row(record)
    except mapping.InvalidRecord:
        return
    assert row is None or row["email"] == str(record["email"]).lower()


def test_phase_billability_rules() -> None:
    assert is_phase_billable("Development", "Webshop")
    assert not is_phase_billable("Non-billable onboarding", "Webshop")
    assert not is_phase_billable("NON BILLABLE", "Webshop")
    assert not is_phase_billable("Development", "Solinor")
    assert is_phase_billable("Development", "Solinor internal")
    assert is_phase_billable("Billable non-billable", "Webshop")


def test_tags_name_first_and_last_at_the_first_space() -> None:
    record = {"tags": {"data": [{"value": "Anna Maria Virtanen"}, {"value": "Nobody"}]}}
    assert mapping.tag_names(record) == [("Anna", "Maria Virtanen")]


days = st.dates(date(2001, 1, 1), date(2040, 12, 31))


@given(start=days, length=st.integers(0, 800), chunk=st.integers(1, 120))
def test_split_ranges_cover_every_day_once(start: date, length: int, chunk: int) -> None:
    """15.9 fixed: no overlap between chunks, and a one-day range is one chunk."""
    end = start + timedelta(days=length)
    chunks = split_range(start, end, chunk)
    assert chunks[0][0] == start and chunks[-1][1] == end
    for (_, first_end), (second_start, _) in pairwise(chunks):
        assert second_start == first_end + timedelta(days=1)
    assert all(0 <= (e - s).days < chunk for s, e in chunks)


def test_a_one_day_range_is_one_chunk() -> None:
    assert split_range(date(2018, 2, 1), date(2018, 2, 1)) == [(date(2018, 2, 1), date(2018, 2, 1))]


def test_months_of_a_range_include_the_start_month() -> None:
    """15.5 fixed: a range starting mid-month refreshes that month too."""
    assert months_in(date(2018, 1, 29), date(2018, 3, 1)) == [
        date(2018, 1, 1),
        date(2018, 2, 1),
        date(2018, 3, 1),
    ]


def test_ranges_are_checked() -> None:
    with pytest.raises(InvalidRange, match="before start"):
        check_range(date(2018, 2, 2), date(2018, 2, 1))
    with pytest.raises(InvalidRange, match=">181 days"):
        check_range(date(2018, 1, 1), date(2018, 7, 2))
    check_range(date(2018, 1, 1), date(2018, 7, 2), automatic_split=True)
