"""Projects, clients and people, with their invoice sums (spec 7.6).

What each caller reaches follows `domain/scopes.py`: team leads their own projects (and those
projects' clients), employees every page but without money, invoices or other people's hours,
and only their own person-month."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from invoice_checker.api.permissions import CanViewDirectory, CanViewReports, RowScope
from invoice_checker.domain.date_ranges import MONTH_PATTERN
from invoice_checker.domain.reports import billing_ratio, ratio
from invoice_checker.domain.scopes import Scope
from invoice_checker.store import reports
from invoice_checker.store.invoice_stats import month_end
from service_kit.errors import not_found
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["directory"])

MONTH_QUERY = Query(pattern=MONTH_PATTERN, examples=["2026-10"])
Month = Annotated[str, MONTH_QUERY]
# Its own Query: wrapping Month in Annotated[str | None, ...] drops the pattern (500 on bad input).
OptionalMonth = Annotated[str | None, MONTH_QUERY]


class InvoiceRow(BaseModel):
    id: uuid.UUID
    month: str
    state: str
    project: str
    incurred_hours: float
    incurred_money: float
    incorrect_entries_count: int


class Member(BaseModel):
    email: str | None
    name: str | None
    hours: float


class ProjectOut(BaseModel):
    guid: uuid.UUID
    upstream_id: int | None
    name: str
    client: str
    client_id: int
    state: str | None
    archived: bool
    starts_at: date | None
    ends_at: date | None
    leads: list[str] = Field(description="E-mails of the project leads (10000ft tags)")
    incurred_hours: float | None = Field(description="Null for employees")
    incurred_money: float | None = Field(description="Null for employees")


class ProjectDetail(ProjectOut):
    invoices: list[InvoiceRow]
    members: list[Member]


class ClientOut(BaseModel):
    id: int
    name: str
    incurred_hours: float | None = Field(description="Null for employees")
    incurred_money: float | None = Field(description="Null for employees")
    invoices: int | None = Field(description="Null for employees")


class ClientDetail(ClientOut):
    projects: list[ProjectOut]
    invoice_list: list[InvoiceRow]
    members: list[Member]


class PersonMonth(BaseModel):
    guid: uuid.UUID
    email: str
    name: str | None
    billable_hours: float
    non_billable_hours: float
    billable_money: float
    non_billable_money: float
    invoicing_ratio: float | None = Field(description="Billable % of hours")
    bill_rate_avg: float | None = Field(description="Billable money per hour, all hours")
    bill_rate_avg_billable: float | None = Field(description="Billable money per billable hour")
    issues: int = Field(description="Entries missing notes, phase or category")


class PersonDetail(PersonMonth):
    archived: bool
    months_with_entries: list[str]
    billing_ratio_30d: float | None
    billing_ratio_90d: float | None


def _month_bounds(month: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{month}-01")
    return first, month_end(first)


def _sums(row: Mapping[str, object], scope: Scope) -> dict[str, object]:
    """A project or client row, its sums blanked for those who see no money."""
    values = dict(row)
    if not scope.sees_money:
        values.update(incurred_hours=None, incurred_money=None)
        if "invoices" in values:
            values["invoices"] = None
    return values


def _person(row: Mapping[str, Any]) -> dict[str, object]:
    billable_h = float(row["billable_hours"])
    non_billable_h = float(row["non_billable_hours"])
    money = float(row["billable_money"])
    return {
        **row,
        "invoicing_ratio": billing_ratio(billable_h, non_billable_h),
        "bill_rate_avg": ratio(money, billable_h + non_billable_h),
        "bill_rate_avg_billable": ratio(money, billable_h),
    }


@router.get("/projects", summary="Projects with their invoiced hours and money")
async def list_projects(
    session: SessionDep,
    _: CanViewDirectory,
    scope: RowScope,
    q: Annotated[str | None, Query(max_length=100, description="Name or client contains")] = None,
    client_id: int | None = None,
    show_only: Annotated[
        Literal["no_lead", "running"] | None,
        Query(description="`no_lead`: without leads; `running`: started and not ended"),
    ] = None,
) -> list[ProjectOut]:
    rows = await reports.projects_with_sums(
        session,
        scope,
        q=q,
        client_id=client_id,
        no_lead=show_only == "no_lead",
        running_on=date.today() if show_only == "running" else None,
    )
    return [ProjectOut.model_validate(_sums(r, scope)) for r in rows]


@router.get(
    "/projects/{project_guid}",
    summary="A project, its monthly invoices and members",
    responses={404: {"description": "No such project"}},
)
async def get_project(
    project_guid: uuid.UUID, session: SessionDep, _: CanViewDirectory, scope: RowScope
) -> ProjectDetail:
    rows = await reports.projects_with_sums(session, scope, guid=project_guid)
    if not rows:
        raise not_found(f"project {project_guid}")
    return ProjectDetail(
        **_sums(rows[0], scope),
        invoices=[
            InvoiceRow.model_validate(dict(r))
            for r in await reports.invoices_of(session, scope, project_guid=project_guid)
        ],
        members=[
            Member.model_validate(dict(r))
            for r in await reports.members_of(session, scope, project_guid=project_guid)
        ],
    )


@router.get("/clients", summary="Clients with invoiced hours, by money")
async def list_clients(
    session: SessionDep, _: CanViewDirectory, scope: RowScope
) -> list[ClientOut]:
    rows = await reports.clients_with_sums(session, scope)
    return [ClientOut.model_validate(_sums(r, scope)) for r in rows]


@router.get(
    "/clients/{client_id}",
    summary="A client, its projects, invoices and members",
    responses={404: {"description": "No such client"}},
)
async def get_client(
    client_id: int, session: SessionDep, _: CanViewDirectory, scope: RowScope
) -> ClientDetail:
    rows = await reports.clients_with_sums(session, scope, client_id)
    if not rows:
        raise not_found(f"client {client_id}")
    projects = await reports.projects_with_sums(session, scope, client_id=client_id)
    return ClientDetail(
        **_sums(rows[0], scope),
        projects=[ProjectOut.model_validate(_sums(r, scope)) for r in projects],
        invoice_list=[
            InvoiceRow.model_validate(dict(r))
            for r in await reports.invoices_of(session, scope, client_id=client_id)
        ],
        members=[
            Member.model_validate(dict(r))
            for r in await reports.members_of(session, scope, client_id=client_id)
        ],
    )


@router.get("/users", summary="People and their month of project work")
async def list_people(session: SessionDep, _: CanViewReports, month: Month) -> list[PersonMonth]:
    first, last = _month_bounds(month)
    rows = await reports.people_of_month(session, first=first, last=last)
    return [PersonMonth.model_validate(_person(dict(r))) for r in rows]


@router.get(
    "/users/{user_guid}",
    summary="A person: a month of work, months with entries, billing ratio",
    responses={404: {"description": "No such person"}},
)
async def get_person(
    user_guid: uuid.UUID,
    session: SessionDep,
    scope: RowScope,
    month: OptionalMonth = None,
) -> PersonDetail:
    """Your own person-month; anyone's with `can_view_reports` (others: 404)."""
    today = date.today()
    first, last = _month_bounds(month or today.strftime("%Y-%m"))
    rows = await reports.people_of_month(session, first=first, last=last, guid=user_guid)
    if not rows or not scope.sees_person(rows[0]["email"]):
        raise not_found(f"person {user_guid}")
    person = _person(dict(rows[0]))
    ratios = {}
    for days in (30, 90):
        sums = await reports.billable_hours_by_person(
            session,
            start=date.fromordinal(today.toordinal() - days),
            end=today,
            include_leaves=True,  # as the original's person page
        )
        mine = next((s for s in sums if s["email"] == person["email"]), None)
        ratios[days] = (
            billing_ratio(mine["billable_hours"], mine["non_billable_hours"]) if mine else None
        )
    return PersonDetail(
        **person,
        months_with_entries=await reports.months_with_entries(session, user_guid),
        billing_ratio_30d=ratios[30],
        billing_ratio_90d=ratios[90],
    )
