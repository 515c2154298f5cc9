"""The invoice list: one invoice per parent project per month, with its stats."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from invoice_checker.api.permissions import CanViewInvoices, RowScope
from invoice_checker.domain.date_ranges import MONTH_PATTERN
from invoice_checker.domain.invoice_state import InvoiceState
from invoice_checker.store.invoice_list import (
    STAT_COLUMNS,
    InvoiceFilters,
    InvoicePage,
    invoice_page,
)
from service_kit.errors import Problem
from service_kit.pagination import Page, PageDep, PageParams
from service_kit.request_session import ReadSessionDep

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


def _list_item(row: Sequence[Any]) -> dict[str, Any]:
    """An InvoiceListItem from a row of `invoice_page`, keys in the documented order."""
    item = {
        "id": row[0],
        "month": row[1],
        "project": {"upstream_id": row[2], "guid": row[3], "name": row[4], "client": row[5]},
        "state": row[6],
    }
    item.update(zip(STAT_COLUMNS, row[7:_STATS_END], strict=True))
    return item


_STATS_END = 7 + len(STAT_COLUMNS)  # the total follows the stats


def parse_month(value: str) -> date:
    match = MONTH.match(value)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise Problem(422, "month must be YYYY-MM.", type_="urn:problem:validation")
    return date(int(match[1]), int(match[2]), 1)


# `sort` values: a column (see SORT_COLUMNS), "-" first for descending.
Sort = Literal[
    "month", "-month", "client", "-client", "project", "-project",
    "hours", "-hours", "money", "-money", "problems", "-problems",
]  # fmt: skip
DEFAULT_SORT: Sort = "-month"
TAG_MAX_LENGTH = 50


@router.get("", response_model=Page[InvoiceListItem])
async def list_invoices(
    session: ReadSessionDep,
    page: PageDep,
    _: CanViewInvoices,
    scope: RowScope,
    month: Annotated[str | None, Query(description="YYYY-MM", pattern=MONTH_PATTERN)] = None,
    project: Annotated[uuid.UUID | None, Query(description="Project guid")] = None,
    client: Annotated[int | None, Query(description="Client id")] = None,
    state: Annotated[
        list[InvoiceState] | None, Query(description="C, A, P or S; repeat for several")
    ] = None,
    tag: Annotated[
        str | None, Query(max_length=TAG_MAX_LENGTH, description="Only invoices with it")
    ] = None,
    has_problems: Annotated[
        bool | None, Query(description="true: some incorrect entries; false: none")
    ] = None,
    sort: Annotated[Sort, Query(description="Column, '-' for descending")] = DEFAULT_SORT,
) -> Response:
    """Newest month first, then by client and project name (or as `sort` says). Team leads get
    the invoices of the projects they lead only."""
    filters = list_filters(month, project, client, state or (), tag, has_problems)
    found = await invoice_page(
        session, filters, sort, scope=scope, limit=page.page_size, offset=page.offset
    )
    return list_response(found, page)


def list_filters(
    month: str | None,
    project: uuid.UUID | None,
    client: int | None,
    states: Sequence[InvoiceState],
    tag: str | None,
    has_problems: bool | None,
) -> InvoiceFilters:
    """The filters of a list request, from its validated query parameters."""
    return InvoiceFilters(
        month=None if month is None else parse_month(month),
        project=project,
        client=client,
        states=tuple(value.value for value in states),
        tag=tag,
        has_problems=has_problems,
    )


def list_response(found: InvoicePage, page: PageParams) -> Response:
    """The list's JSON answer: a page envelope of InvoiceListItem."""
    body = {
        "items": [_list_item(row) for row in found.rows],
        "total": found.total,
        "page": page.page,
        "page_size": page.page_size,
    }
    # Serialised as it is: validating every item through the model again would cost more than
    # the query (tests check the body against the documented model). asyncpg's UUIDs are str-ed.
    return Response(orjson.dumps(body, default=str), media_type="application/json")
