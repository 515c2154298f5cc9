"""The invoice list query: a page of invoices with their project, client and stats, and the
number of invoices the filters match, in one statement (the busiest route of the service).

Each combination of filters and sort builds its statement once and reuses it, values bound as
parameters: SQLAlchemy then neither rebuilds nor re-hashes the expression per request, and
PostgreSQL plans the prepared statement once (LIMIT and OFFSET are written into the SQL text, as
a bound LIMIT would keep PostgreSQL re-planning on every call). The page is fetched through the
driver with that statement compiled once to SQL: SQLAlchemy's per-execution work (execution
context, result rows) cost more CPU than the query's own round trip.
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
    Select,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from invoice_checker.domain.scopes import ProjectReach, Scope
from invoice_checker.store.directory import Client, Project
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.reports import INTERNAL_CLIENTS
from invoice_checker.store.scopes import led_project_guids
from invoice_checker.store.workflow import InvoiceTag
from service_kit.db import AnySelect, autocommit_connection

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
    lead: str | None = None  # e-mail of one of the project's leads
    text: str | None = None  # contained in the project's or the client's name
    hide_minor: bool | None = None  # True: no zero, internal-client or leave invoices

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
    if name == "lead":  # one of the project's leads (e-mails are stored lower-cased)
        lead = func.lower(bindparam("lead", String()))
        return Invoice.project_guid.in_(led_project_guids(lead))
    if name == "text":
        needle = func.lower(bindparam("text", String()))
        named = (
            select(Project.guid)
            .join(Client, Client.id == Project.client_id)
            .where(
                or_(
                    func.strpos(func.lower(Project.name), needle) > 0,
                    func.strpos(func.lower(Client.name), needle) > 0,
                )
            )
        )
        return Invoice.project_guid.in_(named)
    if name == "hide_minor":
        return and_(bindparam("hide_minor", Boolean()), _not_minor(joined=False))
    if name == "led_by":  # the caller's scope: a team lead's own projects
        return Invoice.project_guid.in_(led_project_guids(bindparam("led_by", String())))
    if name == "out_of_reach":
        return false()
    raise ValueError(f"unknown invoice filter {name!r}")


def _joined_condition(name: str) -> ColumnElement[bool]:
    """`_condition` for the page statement, which has the project and client joined: their
    columns are tested directly (a subquery there makes PostgreSQL hash the whole month)."""
    if name != "hide_minor":
        return _condition(name)
    return and_(bindparam("hide_minor", Boolean()), _not_minor(joined=True))


def _checkable_project() -> list[ColumnElement[bool]]:
    """A project whose invoices are checked: from 10000ft (not the leave project), not
    Internal, of a paying client (spec 7.6)."""
    return [
        Project.project_id.is_not(None),
        Project.project_state.is_distinct_from("Internal"),
        Client.name.not_in(INTERNAL_CLIENTS),
    ]


def _not_minor(*, joined: bool) -> ColumnElement[bool]:
    """Invoices worth checking: some hours or money, of a checkable project."""
    has_figures = or_(Invoice.incurred_hours != 0, Invoice.incurred_money != 0)
    if joined:
        return and_(has_figures, *_checkable_project())
    # The few projects that are not checkable: a NOT IN over them is far cheaper than an IN
    # over all the others.
    unchecked = (
        select(Project.guid)
        .join(Client, Client.id == Project.client_id)
        .where(not_(and_(*_checkable_project())))
    )
    return and_(has_figures, Invoice.project_guid.not_in(unchecked))


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
        .where(*(_joined_condition(name) for name in filter_names))
        .order_by(
            column.desc() if sort.startswith("-") else column.asc(),
            Client.name,
            Project.name,
            Invoice.id,
        )
        .limit(bindparam("limit", type_=Integer(), literal_execute=True))
        .offset(bindparam("offset", type_=Integer(), literal_execute=True))
    )


@dataclass(frozen=True)
class _DriverQuery:
    """A statement as the driver runs it: SQL with LIMIT and OFFSET written in, and its
    positional parameters, each a filter's value or a constant of the statement."""

    sql: str
    parameters: tuple[str, ...]
    constants: dict[str, Any]

    @classmethod
    def of(
        cls, statement: AnySelect, dialect: Dialect, filter_names: tuple[str, ...], **fixed: Any
    ) -> _DriverQuery:
        # Expanding asks for a value of every parameter: the filters' are bound at each fetch.
        state = statement.compile(dialect=dialect).construct_expanded_state(
            {**dict.fromkeys(filter_names), **fixed}
        )
        constants = {k: v for k, v in state.parameters.items() if k not in filter_names}
        return cls(state.statement, tuple(state.positiontup or ()), constants)

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        return [values[n] if n in values else self.constants[n] for n in self.parameters]


@lru_cache(maxsize=1024)
def _driver_query(
    dialect: Dialect, filter_names: tuple[str, ...], sort: str, limit: int, offset: int
) -> _DriverQuery:
    statement = page_statement(filter_names, sort)
    return _DriverQuery.of(statement, dialect, filter_names, limit=limit, offset=offset)


@lru_cache(maxsize=256)
def count_statement(filter_names: tuple[str, ...]) -> Select[int]:
    return _count(filter_names)


@lru_cache(maxsize=256)
def _driver_count(dialect: Dialect, filter_names: tuple[str, ...]) -> _DriverQuery:
    return _DriverQuery.of(count_statement(filter_names), dialect, filter_names)


@dataclass(frozen=True)
class InvoicePage:
    """`rows`: (id, month "YYYY-MM", project upstream id, project guid, project name, client
    name, state, *STAT_COLUMNS, total); `total`: invoices matching the filters."""

    rows: Sequence[Sequence[Any]]
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
    connection = await autocommit_connection(session)
    driver = (await connection.get_raw_connection()).driver_connection
    return await invoice_page_on(
        driver, connection.dialect, filters, sort, scope=scope, limit=limit, offset=offset
    )


async def invoice_page_on(
    driver: Any,
    dialect: Dialect,
    filters: InvoiceFilters,
    sort: str,
    *,
    scope: Scope,
    limit: int,
    offset: int,
) -> InvoicePage:
    """`invoice_page` on an asyncpg connection (`dialect`: its engine's)."""
    values = {**filters.in_use(), **_scope_values(scope)}
    names = tuple(values)
    query = _driver_query(dialect, names, sort, limit, offset)
    rows = await driver.fetch(query.sql, *query.arguments(values))
    if rows:
        return InvoicePage(rows, rows[0][-1])
    # Past the last page there is no row to carry the total.
    count = _driver_count(dialect, names)
    return InvoicePage(rows, await driver.fetchval(count.sql, *count.arguments(values)) or 0)


@dataclass(frozen=True)
class InvoiceTotals:
    invoices: int
    hours: float
    money: float

    @property
    def bill_rate_avg(self) -> float | None:
        """Weighted euros per hour: all the money over all the hours (spec 7.6's footer)."""
        return self.money / self.hours if self.hours else None


@lru_cache(maxsize=256)
def totals_statement(filter_names: tuple[str, ...]) -> AnySelect:
    return select(
        func.count(),
        func.coalesce(func.sum(Invoice.incurred_hours), 0.0),
        func.coalesce(func.sum(Invoice.incurred_money), 0.0),
    ).where(*(_condition(name) for name in filter_names))


async def invoice_totals(
    session: AsyncSession, filters: InvoiceFilters, *, scope: Scope
) -> InvoiceTotals:
    """The sums of every invoice `scope` reaches that the filters match (the list's footer)."""
    values = {**filters.in_use(), **_scope_values(scope)}
    connection = await autocommit_connection(session)
    row = (await connection.execute(totals_statement(tuple(values)), values)).one()
    return InvoiceTotals(int(row[0]), float(row[1]), float(row[2]))
