"""One invoice: stats, phases, fixed and AWS rows, comparison, problems, entries, history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.api.permissions import CanViewInvoices, RowScope
from invoice_checker.api.schemas import FixedRowOut, ProjectRef
from invoice_checker.domain.comparison import Change, InvoiceFigures, compare
from invoice_checker.domain.invoice_state import InvoiceState
from invoice_checker.domain.scopes import Scope, mask_leave
from invoice_checker.domain.stats import (
    INCORRECT_KINDS,
    hour_totals,
    incorrect_kinds,
    incorrect_lists,
    invoice_totals,
    phase_sections,
)
from invoice_checker.store import checking, scopes
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.workflow import InvoiceComment
from service_kit.errors import not_found
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1/invoices", tags=["invoices"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No invoice with this id"}}
ProblemKind = Literal[
    "billable_incorrect_price",
    "non_billable_hours",
    "non_phase_specific",
    "not_approved_hours",
    "empty_descriptions",
    "no_category",
]


class EntryOut(BaseModel):
    id: int
    upstream_id: int
    date: date
    user_email: str | None
    user_name: str | None
    hours: float
    bill_rate: float
    money: float
    phase_name: str
    category: str
    notes: str | None
    status: str
    billable: bool
    problems: list[str] = Field(description="Incorrect-entry lists this entry is in")


class ChangeOut(BaseModel):
    previous: float
    current: float
    diff: float
    percentage: float | None


class ComparisonOut(BaseModel):
    previous_invoice_id: uuid.UUID
    hours: ChangeOut
    bill_rate_avg: ChangeOut
    money: ChangeOut
    remarkable: bool = Field(description="Ask for the 'remarkable changes are OK' tick")


class CommentOut(BaseModel):
    id: int
    created_at: datetime
    user: str
    comments: str | None
    checked: bool
    checked_non_billable_ok: bool
    checked_bill_rates_ok: bool
    checked_phases_ok: bool
    checked_no_category_ok: bool
    checked_changes_last_month: bool
    invoice_number: str | None
    invoice_sent_to_customer: bool


class TotalRowOut(BaseModel):
    key: str = Field(examples=["hours"])
    description: str = Field(examples=["Hour markings"])
    currency: str = Field(examples=["EUR"])
    incurred_money: float
    incurred_hours: float | None = None
    incurred_billable_hours: float | None = None
    bill_rate_avg: float | None = None


class PhaseRateOut(BaseModel):
    bill_rate: float
    incurred_hours: float
    incurred_money: float


class PhaseUserOut(BaseModel):
    email: str
    name: str | None
    rates: list[PhaseRateOut]


class PhaseOut(BaseModel):
    name: str = Field(examples=["Development - 100.0"])
    phase_name: str
    bill_rate: float
    billable: bool
    incurred_hours: float
    incurred_money: float = Field(description="Billable entries only")
    users: list[PhaseUserOut]


class AwsRowOut(BaseModel):
    account_id: str
    account_name: str
    price: float
    currency: str


class ChecklistItem(BaseModel):
    field: str = Field(description="The comment field that acknowledges it")
    count: int


class InvoiceDetail(BaseModel):
    id: uuid.UUID
    month: str = Field(examples=["2026-10"])
    state: InvoiceState
    state_label: str = Field(examples=["Approved"])
    is_approved: bool = Field(description="The latest comment ticked `checked`")
    has_comments: bool = Field(description="The latest comment has text")
    project: ProjectRef
    tags: list[str]
    incurred_hours: float
    incurred_billable_hours: float
    incurred_money: float = Field(description="Euros only; see money_by_currency")
    money_by_currency: dict[str, float] = Field(examples=[{"EUR": 2010.0, "USD": 8.71}])
    billable_percentage: float = Field(description="0..1")
    bill_rate_avg: float
    total_entries: int
    incorrect_entries_count: int
    incorrect_counts: dict[str, int]
    total_rows: list[TotalRowOut]
    phases: list[PhaseOut]
    fixed_rows: list[FixedRowOut]
    aws_rows: list[AwsRowOut]
    checklist: list[ChecklistItem] = Field(
        description="Ticks the check form asks for: one per non-empty problem list, plus "
        "`checked_changes_last_month` when the comparison is remarkable"
    )
    comparison: ComparisonOut | None
    latest_comment: CommentOut | None


class HistoryOut(BaseModel):
    entity_type: str
    entity_id: str
    changes: dict[str, Any]
    actor: str
    recorded_at: datetime


# Which comment field acknowledges which problem list (spec 2.8).
ACKNOWLEDGED_BY = {
    "non_billable_hours": "checked_non_billable_ok",
    "billable_incorrect_price": "checked_bill_rates_ok",
    "non_phase_specific": "checked_phases_ok",
    "no_category": "checked_no_category_ok",
}


async def invoice_or_404(session: SessionDep, scope: Scope, invoice_id: uuid.UUID) -> Invoice:
    """The invoice if the caller reaches it; one outside their reach is 404 too, not 403."""
    invoice = await scopes.invoice_in_scope(session, scope, invoice_id)
    if invoice is None:
        raise not_found(f"invoice {invoice_id}")
    return invoice


def project_ref(invoice: Invoice) -> ProjectRef:
    project = invoice.project
    return ProjectRef(
        guid=project.guid,
        upstream_id=project.project_id,
        name=project.name,
        client=project.client.name,
    )


# An entry as checking reads it: an ORM HourEntry or a checking.CheckedEntry tuple.
CheckedEntry = HourEntry | checking.CheckedEntry


def entry_out(entry: CheckedEntry, scope: Scope) -> EntryOut:
    shown = mask_leave(scope, entry)
    return EntryOut(
        id=entry.id,
        upstream_id=entry.upstream_id,
        date=entry.date,
        user_email=entry.user_email,
        user_name=entry.user_name,
        hours=entry.incurred_hours,
        bill_rate=entry.bill_rate,
        money=entry.incurred_money,
        phase_name=entry.phase_name,
        category=shown.category,
        notes=shown.notes,
        status=entry.status,
        billable=entry.calculated_is_billable,
        problems=incorrect_kinds(entry),
    )


def comment_out(comment: InvoiceComment | None) -> CommentOut | None:
    return None if comment is None else CommentOut.model_validate(comment, from_attributes=True)


def _change(item: Change) -> ChangeOut:
    return ChangeOut(
        previous=item.previous, current=item.current, diff=item.diff, percentage=item.percentage
    )


def _figures(invoice: Invoice) -> InvoiceFigures:
    return InvoiceFigures(invoice.incurred_hours, invoice.bill_rate_avg, invoice.incurred_money)


async def comparison_of(session: SessionDep, invoice: Invoice) -> ComparisonOut | None:
    previous = await checking.previous_invoice(session, invoice)
    if previous is None:
        return None
    result = compare(_figures(previous), _figures(invoice))
    return ComparisonOut(
        previous_invoice_id=previous.id,
        hours=_change(result.hours),
        bill_rate_avg=_change(result.bill_rate_avg),
        money=_change(result.money),
        remarkable=result.remarkable,
    )


@router.get(
    "/{invoice_id}",
    summary="An invoice with everything needed to check it",
    description="Start the monthly check here: read `checklist`, look at the problem entries "
    "(`GET .../entries?problem=...`), then `POST .../comments` to approve.",
    responses=NOT_FOUND,
)
async def get_invoice(
    invoice_id: uuid.UUID, session: SessionDep, _: CanViewInvoices, scope: RowScope
) -> InvoiceDetail:
    invoice = await invoice_or_404(session, scope, invoice_id)
    return await invoice_detail(
        session, invoice, await checking.counted_entry_rows(session, invoice.id)
    )


async def invoice_detail(
    session: AsyncSession, invoice: Invoice, entries: Sequence[CheckedEntry]
) -> InvoiceDetail:
    """Everything needed to check `invoice`, given its counted entries (the web page reuses
    the entries it loaded for its tables)."""
    fixed = await checking.shown_fixed_rows(session, invoice)
    aws = await checking.aws_rows(session, invoice)
    totals = invoice_totals(hour_totals(entries), fixed, aws)
    lists = incorrect_lists(entries)
    comparison = await comparison_of(session, invoice)
    checklist = [
        ChecklistItem(field=field, count=len(lists[kind]))
        for kind, field in ACKNOWLEDGED_BY.items()
        if lists[kind]
    ]
    if comparison is not None and comparison.remarkable:
        checklist.append(ChecklistItem(field="checked_changes_last_month", count=1))
    state = InvoiceState(invoice.invoice_state)
    tags = await checking.tags_of(session, [invoice.id])
    stored = await checking.currency_totals(session, [invoice.id])
    return InvoiceDetail(
        id=invoice.id,
        month=invoice.month,
        state=state,
        state_label=state.label,
        is_approved=invoice.is_approved,
        has_comments=invoice.has_comments,
        project=project_ref(invoice),
        tags=tags[invoice.id],
        incurred_hours=invoice.incurred_hours,
        incurred_billable_hours=invoice.incurred_billable_hours,
        incurred_money=invoice.incurred_money,
        money_by_currency=stored[invoice.id] or totals.money_by_currency,
        billable_percentage=invoice.billable_percentage,
        bill_rate_avg=invoice.bill_rate_avg,
        total_entries=invoice.total_entries,
        incorrect_entries_count=invoice.incorrect_entries_count,
        incorrect_counts={kind: getattr(invoice, f"{kind}_count") for kind in INCORRECT_KINDS},
        total_rows=[TotalRowOut.model_validate(row, from_attributes=True) for row in totals.rows],
        phases=[
            PhaseOut(
                name=s.name,
                phase_name=s.phase_name,
                bill_rate=s.bill_rate,
                billable=s.billable,
                incurred_hours=s.incurred_hours,
                incurred_money=s.incurred_money,
                users=[
                    PhaseUserOut(
                        email=email,
                        name=user.user_name,
                        rates=[
                            PhaseRateOut(
                                bill_rate=rate,
                                incurred_hours=sums.incurred_hours,
                                incurred_money=sums.incurred_money,
                            )
                            for rate, sums in user.rates.items()
                        ],
                    )
                    for email, user in s.users.items()
                ],
            )
            for s in phase_sections(entries)
        ],
        fixed_rows=[FixedRowOut.model_validate(r, from_attributes=True) for r in fixed],
        aws_rows=[AwsRowOut.model_validate(r, from_attributes=True) for r in aws],
        checklist=checklist,
        comparison=comparison,
        latest_comment=comment_out(await checking.latest_comment(session, invoice.id)),
    )


@router.get(
    "/{invoice_id}/entries",
    summary="The hour entries the invoice counts, optionally only one problem list",
    responses=NOT_FOUND,
)
async def list_entries(
    invoice_id: uuid.UUID,
    session: SessionDep,
    _: CanViewInvoices,
    scope: RowScope,
    problem: Annotated[
        ProblemKind | None, Query(description="Only entries in this incorrect-entry list")
    ] = None,
) -> list[EntryOut]:
    invoice = await invoice_or_404(session, scope, invoice_id)
    entries = [entry_out(e, scope) for e in await checking.counted_entry_rows(session, invoice.id)]
    return [e for e in entries if problem is None or problem in e.problems]


@router.get(
    "/{invoice_id}/history",
    summary="Who changed what on the invoice, its comments and fixed rows, newest first",
    responses=NOT_FOUND,
)
async def invoice_history(
    invoice_id: uuid.UUID, session: SessionDep, _: CanViewInvoices, scope: RowScope
) -> list[HistoryOut]:
    invoice = await invoice_or_404(session, scope, invoice_id)
    records = await checking.history_of(session, invoice)
    return [HistoryOut.model_validate(r, from_attributes=True) for r in records]
