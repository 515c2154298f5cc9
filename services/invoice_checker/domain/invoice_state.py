"""The invoice states (spec 2.8), derived in this one place from the latest checklist comment."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class InvoiceState(StrEnum):
    CREATED = "C"
    APPROVED = "A"
    PREVIEW = "P"
    SENT = "S"

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def invoiced(self) -> bool:
        """Preview and Sent: an invoice exists in accounting, so its fixed rows are frozen."""
        return self in {InvoiceState.PREVIEW, InvoiceState.SENT}


def normalise_invoice_number(raw: str | None) -> str | None:
    """Strip the number; blank means "no number" (the original stored "" for whitespace)."""
    if raw is None:
        return None
    return raw.strip() or None


def derive_state(*, checked: bool, invoice_number: str | None, sent: bool) -> InvoiceState:
    """Later rules win: a number without the check-box still gives Preview."""
    if sent:
        return InvoiceState.SENT
    if invoice_number:
        return InvoiceState.PREVIEW
    if checked:
        return InvoiceState.APPROVED
    return InvoiceState.CREATED


FixedRowsChange = Literal["freeze", "unfreeze"] | None


def fixed_rows_change(old: InvoiceState, new: InvoiceState) -> FixedRowsChange:
    """Entering Preview/Sent copies the project's fixed rows; leaving drops the copies."""
    if new.invoiced and not old.invoiced:
        return "freeze"
    if old.invoiced and not new.invoiced:
        return "unfreeze"
    return None
