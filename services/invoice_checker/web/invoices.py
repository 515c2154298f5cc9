"""/invoices (the month's list) and /invoices/{id} (the check), with the check's forms.

Each form posts to a page route that calls the API's own function for the action, so the
permission, the rules and the refusals are the API's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from invoice_checker.api import comments, fixed_rows, syncs, tags
from invoice_checker.api.invoice_detail import (
    entry_out,
    invoice_detail,
    invoice_history,
    invoice_or_404,
)
from invoice_checker.api.invoices import _list_item, parse_month
from invoice_checker.api.permissions import (
    CanCheckInvoices,
    CanEditFixedRows,
    CanViewInvoices,
    RowScope,
)
from invoice_checker.domain.invoice_state import InvoiceState
from invoice_checker.domain.permissions import Permission
from invoice_checker.domain.stats import incorrect_kinds
from invoice_checker.store import checking, reports, sync_runs
from invoice_checker.store.invoice_list import InvoiceFilters, invoice_page, invoice_totals
from invoice_checker.store.invoice_stats import month_end
from invoice_checker.web.rendering import page_count, render, step_month
from invoice_checker.web.security import CsrfChecked
from service_kit.errors import Problem
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

LIST_PAGE_SIZE = 100
ENTRY_PAGE_SIZE = 100
STATES = [(state.value, state.label) for state in InvoiceState]
ListSort = Literal[
    "month", "-month", "client", "-client", "project", "-project",
    "hours", "-hours", "money", "-money", "problems", "-problems",
]  # fmt: skip
EntrySort = Literal["date", "-date", "person", "-person", "hours", "-hours", "money", "-money"]
# Why an entry is in each incorrect-entry list (spec 2.7), as a person reads it.
REASONS = {
    "billable_incorrect_price": "Billable, but its rate is outside the usual band",
    "non_billable_hours": "Not billable",
    "non_phase_specific": "No phase",
    "not_approved_hours": "Not approved in 10000ft",
    "empty_descriptions": "No description",
    "no_category": "No category",
}
# What ticking each checklist field says (the API's ACKNOWLEDGED_BY fields, and the comparison).
ACKNOWLEDGE = {
    "checked_non_billable_ok": "Non-billable hours are OK",
    "checked_bill_rates_ok": "Unusual rates are OK",
    "checked_phases_ok": "Entries without a phase are OK",
    "checked_no_category_ok": "Entries without a category are OK",
    "checked_changes_last_month": "The changes since last month are OK",
}
ENTRY_KEYS: dict[str, Callable[[Any], Any]] = {
    "date": lambda e: (e.date, e.user_name or ""),
    "person": lambda e: (e.user_name or e.user_email or "", e.date),
    "hours": lambda e: (e.incurred_hours, e.date),
    "money": lambda e: (e.incurred_money, e.date),
}


@router.get("/invoices")
async def invoice_list(
    request: Request,
    session: SessionDep,
    principal: CanViewInvoices,
    scope: RowScope,
    month: Annotated[str | None, Query(max_length=7)] = None,
    state: Annotated[list[InvoiceState] | None, Query()] = None,
    problems: Annotated[Literal["", "yes", "no"], Query()] = "",
    client: Annotated[str, Query(max_length=12)] = "",
    lead: Annotated[str, Query(max_length=255)] = "",
    text: Annotated[str, Query(max_length=100)] = "",
    show: Annotated[Literal["", "all"], Query()] = "",
    sort: ListSort = "client",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if month is None:  # the monthly check is of last month
        last = step_month(date.today().replace(day=1), -1)
        return RedirectResponse(f"/invoices?month={last:%Y-%m}", status_code=303)
    first = parse_month(month)
    if client and not client.isdigit():
        raise Problem(422, "client must be a client id.")
    filters = InvoiceFilters(
        month=first,
        states=tuple(s.value for s in state or ()),
        has_problems={"yes": True, "no": False}.get(problems),
        client=int(client) if client else None,
        lead=lead.strip() or None,
        text=text.strip() or None,
        hide_minor=None if show == "all" else True,
    )
    offset = (page - 1) * LIST_PAGE_SIZE
    found = await invoice_page(
        session, filters, sort, scope=scope, limit=LIST_PAGE_SIZE, offset=offset
    )
    return render(
        request,
        "invoices.html",
        principal,
        month=first,
        previous=step_month(first, -1),
        next=step_month(first, 1),
        items=[_list_item(row) for row in found.rows],
        total=found.total,
        totals=await invoice_totals(session, filters, scope=scope),
        page=page,
        pages=page_count(found.total, LIST_PAGE_SIZE),
        sort=sort,
        states=STATES,
        chosen_states={s.value for s in state or ()},
        problems=problems,
        client=client,
        clients=[(row["id"], row["name"]) for row in await reports.client_names(session, scope)],
        lead=lead,
        text=text,
        show=show,
    )


@router.get("/invoices/{invoice_id}")
async def invoice_page_view(
    request: Request,
    invoice_id: uuid.UUID,
    session: SessionDep,
    principal: CanViewInvoices,
    scope: RowScope,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: EntrySort = "date",
    saved: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    invoice = await invoice_or_404(session, scope, invoice_id)
    entries = await checking.counted_entry_rows(session, invoice.id)
    detail = await invoice_detail(session, invoice, entries)
    flagged = [entry for entry in entries if incorrect_kinds(entry)]
    ordered = (  # the store reads them by date already
        entries
        if sort == "date"
        else sorted(entries, key=ENTRY_KEYS[sort.removeprefix("-")], reverse=sort.startswith("-"))
    )
    offset = (page - 1) * ENTRY_PAGE_SIZE
    first = invoice.date
    runs = await sync_runs.latest_runs(session, "hours", covering=(first, month_end(first)))
    return render(
        request,
        "invoice.html",
        principal,
        invoice=detail,
        frozen=InvoiceState(detail.state).invoiced,
        incorrect=[entry_out(entry, scope) for entry in flagged[:ENTRY_PAGE_SIZE]],
        incorrect_total=len(flagged),
        entries=[entry_out(entry, scope) for entry in ordered[offset : offset + ENTRY_PAGE_SIZE]],
        entry_total=len(entries),
        page=page,
        pages=page_count(len(entries), ENTRY_PAGE_SIZE),
        sort=sort,
        own_rows=await checking.invoice_fixed_rows(session, invoice.id),
        comment_list=await checking.comments_of(session, invoice.id),
        history=await invoice_history(invoice.id, session, principal, scope),
        acknowledgements={item.field for item in detail.checklist},
        latest=detail.latest_comment,
        sync_run=runs[0] if runs else None,
        saved=saved,
        # Whoever reaches the invoice may resync its month: finance anything, a lead their own.
        may_resync=True,
        reasons=REASONS,
        acknowledge=ACKNOWLEDGE,
    )


def _back(invoice_id: uuid.UUID, saved: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/invoices/{invoice_id}?saved={saved}#{anchor}", status_code=303)


Tick = Annotated[bool, Form()]


@router.post("/invoices/{invoice_id}/check", dependencies=[CsrfChecked])
async def submit_check(
    invoice_id: uuid.UUID,
    session: SessionDep,
    principal: CanCheckInvoices,
    scope: RowScope,
    action: Annotated[Literal["approve", "unapprove", "save"], Form()],
    comments_: Annotated[str, Form(alias="comments", max_length=10_000)] = "",
    checked_non_billable_ok: Tick = False,
    checked_bill_rates_ok: Tick = False,
    checked_phases_ok: Tick = False,
    checked_no_category_ok: Tick = False,
    checked_changes_last_month: Tick = False,
    invoice_number: Annotated[str, Form(max_length=100)] = "",
    invoice_sent_to_customer: Tick = False,
) -> Response:
    """The check form. Approve ticks `checked`, Unapprove clears it, Save keeps it. The
    finance-only fields are on the form only for finance; for others they keep their values."""
    invoice = await invoice_or_404(session, scope, invoice_id)
    latest = await checking.latest_comment(session, invoice.id)
    if not principal.can(Permission.SEND_INVOICES):
        invoice_number = (latest.invoice_number if latest else None) or ""
        invoice_sent_to_customer = latest.invoice_sent_to_customer if latest else False
    checked = {"approve": True, "unapprove": False, "save": invoice.is_approved}[action]
    body = comments.CommentIn(
        comments=comments_.strip() or None,
        checked=checked,
        checked_non_billable_ok=checked_non_billable_ok,
        checked_bill_rates_ok=checked_bill_rates_ok,
        checked_phases_ok=checked_phases_ok,
        checked_no_category_ok=checked_no_category_ok,
        checked_changes_last_month=checked_changes_last_month,
        invoice_number=invoice_number or None,
        invoice_sent_to_customer=invoice_sent_to_customer,
    )
    await comments.add_comment(invoice_id, body, session, principal, scope)
    return _back(invoice_id, action, "check")


async def fixed_row_form(
    description: Annotated[str, Form(min_length=1, max_length=300)],
    price: Annotated[float, Form(ge=-1e9, le=1e9)],
    currency: Annotated[str, Form(pattern=r"^[A-Z]{3}$")] = "EUR",
) -> fixed_rows.FixedRowIn:
    """The fixed-row form's fields as the API's request body."""
    return fixed_rows.FixedRowIn(description=description, price=price, currency=currency)


FixedRowForm = Annotated[fixed_rows.FixedRowIn, Depends(fixed_row_form)]


@router.post("/invoices/{invoice_id}/fixed-rows", dependencies=[CsrfChecked])
async def add_fixed_row(
    invoice_id: uuid.UUID,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
    body: FixedRowForm,
) -> Response:
    await fixed_rows.add_invoice_row(invoice_id, body, session, principal, scope)
    return _back(invoice_id, "row-added", "fixed-rows")


@router.post("/invoices/{invoice_id}/fixed-rows/{row_id}", dependencies=[CsrfChecked])
async def edit_fixed_row(
    invoice_id: uuid.UUID,
    row_id: int,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
    body: FixedRowForm,
) -> Response:
    await fixed_rows.update_invoice_row(invoice_id, row_id, body, session, principal, scope)
    return _back(invoice_id, "row-saved", "fixed-rows")


@router.post("/invoices/{invoice_id}/fixed-rows/{row_id}/delete", dependencies=[CsrfChecked])
async def delete_fixed_row(
    invoice_id: uuid.UUID,
    row_id: int,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
) -> Response:
    await fixed_rows.delete_invoice_row(invoice_id, row_id, session, principal, scope)
    return _back(invoice_id, "row-deleted", "fixed-rows")


TagValue = Annotated[str, Form(pattern=tags.TAG_PATTERN)]


@router.post("/invoices/{invoice_id}/tags", dependencies=[CsrfChecked])
async def add_tag(
    invoice_id: uuid.UUID,
    session: SessionDep,
    principal: CanCheckInvoices,
    scope: RowScope,
    tag: TagValue,
) -> Response:
    await tags.add_tag(invoice_id, tag, session, principal, scope)
    return _back(invoice_id, "tagged", "tags")


@router.post("/invoices/{invoice_id}/tags/{tag}/delete", dependencies=[CsrfChecked])
async def remove_tag(
    invoice_id: uuid.UUID,
    tag: str,
    session: SessionDep,
    principal: CanCheckInvoices,
    scope: RowScope,
) -> Response:
    await tags.remove_tag(invoice_id, tag, session, principal, scope)
    return _back(invoice_id, "untagged", "tags")


@router.post("/invoices/{invoice_id}/resync", dependencies=[CsrfChecked])
async def resync_month(
    request: Request,
    invoice_id: uuid.UUID,
    session: SessionDep,
    principal: CanViewInvoices,
    scope: RowScope,
) -> Response:
    """Resync the hours of the invoice's month, through the API's own route: finance may
    resync anything, a team lead the projects they lead."""
    invoice = await invoice_or_404(session, scope, invoice_id)
    body = syncs.SyncRequest(
        kind="hours", start=invoice.date, end=month_end(invoice.date), project=invoice.project_guid
    )
    await syncs.request_sync(body, session, principal, scope)
    return _back(invoice_id, "resync", "sync")
