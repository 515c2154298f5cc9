"""Flex saldo: every golden vector through the pure function and the CLI, plus properties."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from invoice_checker.cli import main
from invoice_checker.domain import flex
from tests.invoice_checker.flex_vectors import PERSON, FlexCase, flex_cases


@pytest.mark.parametrize("case", flex_cases())
def test_vector_through_pure_function(case: FlexCase) -> None:
    inputs = flex.parse_inputs({**case.inputs, "person": PERSON})
    if case.only_active:
        assert flex.is_active(inputs) == case.expected["active"]
        return
    if case.is_error:
        with pytest.raises(flex.NoContractError) as raised:
            flex.calculate_flex_saldo(inputs)
        assert str(raised.value) == case.expected["message"]
        return
    document = flex.result_document(flex.calculate_flex_saldo(inputs))
    assert document["cumulative_saldo"] == case.expected["cumulative_saldo"]
    assert document["kiky"] == case.expected["kiky"]
    assert document["monthly_summary"] == case.expected["monthly_summary_newest_first"]
    assert document["daily_log"] == case.expected["calculation_log_chronological"]


@pytest.mark.parametrize("case", [c for c in flex_cases() if not c.values[0].only_active])
def test_vector_through_cli(case: FlexCase, tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(case.inputs))
    result = CliRunner().invoke(main, ["flex", "calculate", str(path)])
    if case.is_error:
        assert result.exit_code == 2
        error = json.loads(result.stderr)["error"]
        # The CLI input names no person, so the message is the original's without the name.
        assert error == case.expected["message"].replace(f" for {PERSON}", "")
        assert result.stdout == ""
        return
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["cumulative_saldo"] == case.expected["cumulative_saldo"]
    assert printed["kiky"] == case.expected["kiky"]
    assert printed["monthly_summary"] == case.expected["monthly_summary_newest_first"]
    assert printed["daily_log"] == case.expected["calculation_log_chronological"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{", "invalid input"),
        ("[]", "JSON object"),
        ('{"contracts": []}', "missing 'today'"),
        ('{"today": "2018-13-01"}', "invalid input"),
        ('{"today": "2018-03-01", "hour_entries": [{"date": "2018-01-01"}]}', "missing 'hours'"),
        ('{"today": "2018-03-01", "ignore_events": "false"}', "ignore_events must be true"),
        (
            '{"today": "2018-03-01", "hour_entries": [{"date": "2018-01-01", "hours": NaN}]}',
            "finite",
        ),
    ],
)
def test_cli_rejects_malformed_input(content: str, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text(content)
    result = CliRunner().invoke(main, ["flex", "calculate", str(path)])
    assert result.exit_code == 2
    assert fragment in json.loads(result.stderr)["error"]


def _contract(start: date, end: date, percent: int = 100) -> flex.Contract:
    return flex.Contract(start_date=start, end_date=end, worktime_percent=percent)


def _work(day: date, hours: float, leave_type: str = "[project]") -> flex.HourEntry:
    return flex.HourEntry(day, hours, "Webshop", leave_type, "Development", "Approved")


@settings(max_examples=40, deadline=None)
@given(
    start=st.dates(min_value=date(2016, 1, 1), max_value=date(2030, 1, 1)),
    length=st.integers(min_value=1, max_value=120),
    percent=st.sampled_from([40, 60, 80, 100]),
)
def test_marking_exactly_the_workday_keeps_saldo_at_zero(
    start: date, length: int, percent: int
) -> None:
    """Before KIKY starts, a person who marks exactly the expected hours stays at 0."""
    contract = _contract(start, start + timedelta(days=length + 30), percent)
    days = [start + timedelta(days=i) for i in range(length)]
    entries = [_work(d, contract.workday_length) for d in days if d.weekday() < 5]
    today = start + timedelta(days=length)
    result = flex.calculate_flex_saldo(
        flex.FlexInputs(
            contracts=[contract], corrections=[], holidays={}, entries=entries, today=today
        )
    )
    assert round(result.flex_saldo, 6) == 0
    assert result.daily_log[-1]["date"] == (today - timedelta(days=1)).isoformat()


@settings(max_examples=40, deadline=None)
@given(
    hours=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=27),
            st.floats(min_value=0.25, max_value=12, allow_nan=False),
            st.sampled_from(["[project]", "Sick leave", "Flex time Leave", "Unpaid leave"]),
        ),
        max_size=30,
    )
)
def test_saldo_is_the_sum_of_the_daily_log(hours: list[tuple[int, float, str]]) -> None:
    first = date(2018, 2, 1)
    entries = [_work(first + timedelta(days=d), h, kind) for d, h, kind in hours]
    result = flex.calculate_flex_saldo(
        flex.FlexInputs(
            contracts=[_contract(date(2018, 1, 1), date(2018, 12, 31))],
            corrections=[flex.Correction(first, set_to=5.0)],
            holidays={date(2018, 2, 14): "Test day"},
            entries=entries,
            today=date(2018, 3, 1),
        )
    )
    assert result.flex_saldo == pytest.approx(5.0 + sum(row["sum"] for row in result.daily_log))
    assert result.months[-1].cumulative_saldo == pytest.approx(result.flex_saldo)


def test_flex_time_leave_costs_a_full_day() -> None:
    day = date(2018, 2, 5)  # a Monday
    result = flex.calculate_flex_saldo(
        flex.FlexInputs(
            contracts=[_contract(day, day)],
            corrections=[],
            holidays={},
            entries=[_work(day, 7.5, "Flex time Leave")],
            today=day + timedelta(days=1),
        )
    )
    assert result.flex_saldo == -7.5
