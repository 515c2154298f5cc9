"""The invoice state derivation (spec 2.8) against the update_state truth table."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_checker.domain.invoice_state import (
    InvoiceState,
    derive_state,
    fixed_rows_change,
    normalise_invoice_number,
)
from tests.invoice_checker.invoice_vectors import invoice_vectors


@pytest.mark.parametrize("case", invoice_vectors()["invoice_update_state"])
def test_state_matches_the_truth_table(case: dict[str, Any]) -> None:
    state = derive_state(
        checked=case["checked"],
        invoice_number=normalise_invoice_number(case["invoice_number"]),
        sent=case["invoice_sent_to_customer"],
    )
    assert state == InvoiceState(case["expected_state"])


def test_invoice_numbers_are_stripped_and_blank_means_none() -> None:
    assert normalise_invoice_number("  12345 ") == "12345"
    assert normalise_invoice_number("   ") is None
    assert normalise_invoice_number(None) is None


@given(st.sampled_from(InvoiceState), st.sampled_from(InvoiceState))
def test_fixed_rows_freeze_exactly_when_entering_the_invoiced_states(
    old: InvoiceState, new: InvoiceState
) -> None:
    change = fixed_rows_change(old, new)
    if new.invoiced and not old.invoiced:
        assert change == "freeze"
    elif old.invoiced and not new.invoiced:
        assert change == "unfreeze"
    else:
        assert change is None
