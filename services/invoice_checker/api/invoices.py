"""The invoice list: one invoice per parent project per month, with its stats."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Text, cast, func, select

from invoice_checker.api.pagination import Page, PageDep
from invoice_checker.api.permissions import CanViewInvoices
from invoice_checker.domain.invoice_state import InvoiceState
from invoice_checker.store.directory import Client, Project
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.workflow import InvoiceTag
from service_kit.db import SessionDep
from service_kit.errors import Problem

router = APIRouter(prefix="/api/v1/invoices", tags=["invoices"])

MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class InvoiceProject(BaseModel):
    upstream_id: int | None = Field(description="10000ft project id; null for the leave project")
    guid: uuid.UUID
    name: str
    client: str


class InvoiceListItem(BaseModel):
    id: uuid.UUID
    month: str = Field(description="YYYY-MM")
    project: InvoiceProject
    state: str = Field(description="C created, A approved, P preview, S sent")
    incurred_hours: float
    incurred_billable_hours: float
    incurred_money: float
    billable_percentage: float = Field(description="0..1")
    bill_rate_avg: float
    total_entries: int
    incorrect_entries_count: int
    billable_incorrect_price_count: int
    non_billable_hours_count: int
    non_phase_specific_count: int
    not_approved_hours_count: int
    no_category_count: int
    empty_descriptions_count: int
    is_approved: bool
    has_comments: bool


# Stats columns copied into each item as they are (the rest of InvoiceListItem is built below).
_STAT_COLUMNS = (
    "incurred_hours",
    "incurred_billable_hours",
    "incurred_money",
    "billable_percentage",
    "bill_rate_avg",
    "total_entries",
    "incorrect_entries_count",
    "billable_incorrect_price_count",
    "non_billable_hours_count",
    "non_phase_specific_count",
    "not_approved_hours_count",
    "no_category_count",
    "empty_descriptions_count",
    "is_approved",
    "has_comments",
)


def _item_json() -> Any:
    """One InvoiceListItem as JSON text, built by PostgreSQL: the list is the busiest route,
    and this spares Python building and validating 50 objects per page."""
    project = func.json_build_object(
        "upstream_id", Project.project_id, "guid", Project.guid,
        "name", Project.name, "client", Client.name,
    )  # fmt: skip
    stats = [part for name in _STAT_COLUMNS for part in (name, Invoice.__table__.c[name])]
    return cast(
        func.json_build_object(
            "id", Invoice.id, "month", func.to_char(Invoice.date, "YYYY-MM"),
            "project", project, "state", Invoice.invoice_state, *stats,
        ),
        Text,
    )  # fmt: skip


def parse_month(value: str) -> date:
    match = MONTH.match(value)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise Problem(422, "month must be YYYY-MM.", type_="urn:problem:validation")
    return date(int(match[1]), int(match[2]), 1)


# `sort` values: a column, descending with a leading "-"; ties go by client and project name.
SORTS = {
    "month": Invoice.date,
    "client": Client.name,
    "project": Project.name,
    "hours": Invoice.incurred_hours,
    "money": Invoice.incurred_money,
    "problems": Invoice.incorrect_entries_count,
}
Sort = Literal[
    "month", "-month", "client", "-client", "project", "-project",
    "hours", "-hours", "money", "-money", "problems", "-problems",
]  # fmt: skip


@router.get("", response_model=Page[InvoiceListItem])
async def list_invoices(
    session: SessionDep,
    page: PageDep,
    _: CanViewInvoices,
    month: Annotated[str | None, Query(description="YYYY-MM", max_length=7)] = None,
    project: Annotated[uuid.UUID | None, Query(description="Project guid")] = None,
    client: Annotated[int | None, Query(description="Client id")] = None,
    state: Annotated[
        list[InvoiceState] | None, Query(description="C, A, P or S; repeat for several")
    ] = None,
    tag: Annotated[str | None, Query(max_length=50, description="Only invoices with it")] = None,
    has_problems: Annotated[
        bool | None, Query(description="true: some incorrect entries; false: none")
    ] = None,
    sort: Annotated[Sort, Query(description="Column, '-' for descending")] = "-month",
) -> Page[InvoiceListItem]:
    """Newest month first, then by client and project name (or as `sort` says)."""
    filters = []
    if month is not None:
        filters.append(Invoice.date == parse_month(month))
    if project is not None:
        filters.append(Invoice.project_guid == project)
    if client is not None:
        filters.append(
            Invoice.project_guid.in_(select(Project.guid).where(Project.client_id == client))
        )
    if state:
        filters.append(Invoice.invoice_state.in_([s.value for s in state]))
    if tag is not None:
        filters.append(Invoice.id.in_(select(InvoiceTag.invoice_id).where(InvoiceTag.tag == tag)))
    if has_problems is not None:
        problems = Invoice.incorrect_entries_count > 0
        filters.append(problems if has_problems else ~problems)
    column = SORTS[sort.lstrip("-")]
    # Every invoice has exactly one project and client, so the count needs no joins.
    total = select(func.count()).select_from(Invoice).where(*filters).scalar_subquery()
    statement = (
        select(_item_json(), total)
        .join(Project, Project.guid == Invoice.project_guid)
        .join(Client, Client.id == Project.client_id)
        .where(*filters)
        .order_by(
            column.desc() if sort.startswith("-") else column.asc(),
            Client.name,
            Project.name,
            Invoice.id,
        )
        .limit(page.page_size)
        .offset(page.offset)
    )
    rows = (await session.execute(statement)).all()
    count = rows[0][1] if rows else await session.scalar(select(total))
    body = (
        f'{{"items":[{",".join(row[0] for row in rows)}],"total":{count},'
        f'"page":{page.page},"page_size":{page.page_size}}}'
    )
    return Response(body, media_type="application/json")  # type: ignore[return-value]
