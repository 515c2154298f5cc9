"""The check form: append a checklist comment, which sets the invoice's state (spec 2.8)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, Field

from invoice_checker.api.invoice_detail import (
    NOT_FOUND,
    CommentOut,
    comment_out,
    invoice_or_404,
)
from invoice_checker.api.permissions import CanCheckInvoices, CanViewInvoices, RowScope
from invoice_checker.domain.permissions import Permission
from invoice_checker.store import checking
from service_kit.errors import Problem
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1/invoices", tags=["invoices"])


class CommentIn(BaseModel):
    """One submission of the check form. Every tick not sent is false; the invoice's state
    follows this submission alone: Created, Approved (`checked`), Preview (an invoice number)
    or Sent (`invoice_sent_to_customer`)."""

    comments: str | None = Field(
        default=None, max_length=10_000, examples=["Bob's hours on the 12th moved to phase 2"]
    )
    checked: bool = Field(default=False, description="The invoice is checked and approved")
    checked_non_billable_ok: bool = False
    checked_bill_rates_ok: bool = False
    checked_phases_ok: bool = False
    checked_no_category_ok: bool = False
    checked_changes_last_month: bool = Field(
        default=False, description="Remarkable changes since last month are OK"
    )
    invoice_number: str | None = Field(
        default=None, max_length=100, description="Accounting's number (finance only)"
    )
    invoice_sent_to_customer: bool = Field(default=False, description="Finance only")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"checked": True, "checked_non_billable_ok": True, "comments": "All good"},
                {"checked": True, "invoice_number": "2026-1042"},
                {"checked": True, "invoice_number": "2026-1042", "invoice_sent_to_customer": True},
            ]
        }
    }


@router.get(
    "/{invoice_id}/comments",
    summary="The invoice's checklist comments, newest first",
    responses=NOT_FOUND,
)
async def list_comments(
    invoice_id: uuid.UUID, session: SessionDep, _: CanViewInvoices, scope: RowScope
) -> list[CommentOut]:
    invoice = await invoice_or_404(session, scope, invoice_id)
    return [out for c in await checking.comments_of(session, invoice.id) if (out := comment_out(c))]


@router.post(
    "/{invoice_id}/comments",
    summary="Submit the check form (approve, enter the invoice number, mark sent)",
    status_code=201,
    responses={
        **NOT_FOUND,
        403: {"description": "Changing the invoice number or sent flag needs finance"},
    },
)
async def add_comment(
    invoice_id: uuid.UUID,
    body: CommentIn,
    session: SessionDep,
    principal: CanCheckInvoices,
    scope: RowScope,
) -> CommentOut:
    invoice = await invoice_or_404(session, scope, invoice_id)
    try:
        comment = await checking.add_comment(
            session,
            invoice,
            checking.CommentInput(**body.model_dump()),
            actor=principal.email,
            may_change_invoicing=principal.can(Permission.SEND_INVOICES),
        )
    except checking.InvoicingForbidden:
        raise Problem(
            403,
            "Only finance may set or clear the invoice number or the sent flag; "
            "re-send the current values to keep them.",
            type_="urn:problem:forbidden",
            permission=Permission.SEND_INVOICES.value,
        ) from None
    return CommentOut.model_validate(comment, from_attributes=True)
