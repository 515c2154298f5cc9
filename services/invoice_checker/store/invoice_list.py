"""The invoice list query: a page of invoices with their project, client and stats, and the
number of invoices the filters match, in one statement (the busiest route of the service).

Each combination of filters and sort builds its statement once and reuses it, values bound as
parameters: SQLAlchemy then neither rebuilds nor re-hashes the expression per request, and
PostgreSQL plans the prepared statement once (LIMIT and OFFSET are written into the SQL text, as
a bound LIMIT would keep PostgreSQL re-planning on every call).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Date,
    Integer,
    Row,
    Select,
    String,
    Uuid,
    any_,
    bindparam,
    false,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from invoice_checker.domain.scopes import ProjectReach, Scope
from invoice_checker.store.directory import Client, Project
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.scopes import led_project_guids
from invoice_checker.store.workflow import InvoiceTag
from service_kit.db import autocommit_connection

# Stats columns of an item, as they are stored, in the order the API documents them.
STAT_COLUMNS = (
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

# `sort` values name one of these, "-" first for descending; ties go by client, project, id.
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "month": Invoice.date,
    "client": Client.name,
    "project": Project.name,
    "hours": Invoice.incurred_hours,
    "money": Invoice.incurred_money,
    "problems": Invoice.incorrect_entries_count,
}


@dataclass(frozen=True)
class InvoiceFilters:
    """What the list is narrowed to; a None (or empty `states`) leaves that filter out."""

    month: date | None = None
    project: uuid.UUID | None = None
    client: int | None = None
    states: tuple[str, ...] = ()
    tag: str | None = None
    has_problems: bool | None = None

    def in_use(self) -> dict[str, Any]:
        """The filters that narrow the list, by name: the statement's bound parameters."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {name: value for name, value in values.items() if value is not None and value != ()}


def _condition(name: str) -> ColumnElement[bool]:
    """The WHERE clause of one filter; its value is the bound parameter of the same name."""
    if name == "month":
        return Invoice.date == bindparam("month", type_=Date())
    if name == "project":
        return Invoice.project_guid == bindparam("project", type_=Uuid())
    if name == "client":
        of_client = select(Project.guid).where(Project.client_id == bindparam("client", Integer()))
        return Invoice.project_guid.in_(of_client)
    if name == "states":
        return Invoice.invoice_state == any_(bindparam("states", type_=ARRAY(String())))
    if name == "tag":
        tagged = select(InvoiceTag.invoice_id).where(InvoiceTag.tag == bindparam("tag", String()))
        return Invoice.id.in_(tagged)
    if name == "has_problems":
        return (Invoice.incorrect_entries_count > 0) == bindparam("has_problems", Boolean())
    if name == "led_by":  # the caller's scope: a team lead's own projects
        return Invoice.project_guid.in_(led_project_guids(bindparam("led_by", String())))
    if name == "out_of_reach":
        return false()
    raise ValueError(f"unknown invoice filter {name!r}")


def _count(filter_names: tuple[str, ...]) -> Select[int]:
    # Every invoice has exactly one project and client, so the count needs no joins.
    conditions = [_condition(name) for name in filter_names]
    return select(func.count()).select_from(Invoice).where(*conditions)


@lru_cache(maxsize=256)
def page_statement(filter_names: tuple[str, ...], sort: str) -> Select[Any]:
    """Rows of one page (columns: see `InvoiceRow`), each carrying the filtered total."""
    column = SORT_COLUMNS[sort.removeprefix("-")]
    return (
        select(
            Invoice.id,
            func.to_char(Invoice.date, literal_column("'YYYY-MM'")),
            Project.project_id,
            Project.guid,
            Project.name,
            Client.name,
            Invoice.invoice_state,
            *(Invoice.__table__.c[name] for name in STAT_COLUMNS),
            _count(filter_names).scalar_subquery(),
        )
        .join(Project, Project.guid == Invoice.project_guid)
        .join(Client, Client.id == Project.client_id)
        .where(*(_condition(name) for name in filter_names))
        .order_by(
            column.desc() if sort.startswith("-") else column.asc(),
            Client.name,
            Project.name,
            Invoice.id,
        )
        .limit(bindparam("limit", type_=Integer(), literal_execute=True))
        .offset(bindparam("offset", type_=Integer(), literal_execute=True))
    )


@lru_cache(maxsize=256)
def count_statement(filter_names: tuple[str, ...]) -> Select[int]:
    return _count(filter_names)


@dataclass(frozen=True)
class InvoicePage:
    """`rows`: (id, month "YYYY-MM", project upstream id, project guid, project name, client
    name, state, *STAT_COLUMNS, total); `total`: invoices matching the filters."""

    rows: Sequence[Row[Any]]
    total: int


def _scope_values(scope: Scope) -> dict[str, Any]:
    """The scope as one more filter (see store/scopes.py for the rule)."""
    if scope.reach is ProjectReach.ALL:
        return {}
    if scope.reach is ProjectReach.LED:
        return {"led_by": scope.email}
    return {"out_of_reach": None}


async def invoice_page(
    session: AsyncSession,
    filters: InvoiceFilters,
    sort: str,
    *,
    scope: Scope,
    limit: int,
    offset: int,
) -> InvoicePage:
    """A page of the invoices `scope` reaches that match `filters`."""
    values = {**filters.in_use(), **_scope_values(scope)}
    names = tuple(values)
    connection = await autocommit_connection(session)
    result = await connection.execute(
        page_statement(names, sort), {**values, "limit": limit, "offset": offset}
    )
    rows = result.all()
    if rows:
        return InvoicePage(rows, rows[0][-1])
    # Past the last page there is no row to carry the total.
    return InvoicePage(rows, await connection.scalar(count_statement(names), values) or 0)
