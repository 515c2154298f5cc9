"""Hour entries as synced from 10000ft, leave entries included, filtered and paged.

Everyone signed in reads their own entries; team leads also those of the projects they lead,
finance and admin every entry (domain/scopes.py). Sick leave keeps its type only for its owner
and holders of `can_see_sick_leaves`."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from invoice_checker.api.permissions import RowScope
from invoice_checker.api.schemas import ProjectRef
from invoice_checker.domain.date_ranges import Day
from invoice_checker.domain.scopes import Scope, mask_leave
from invoice_checker.store.directory import Client, Project
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.scopes import hour_entry_visible
from service_kit.db import AnySelect
from service_kit.errors import Problem
from service_kit.pagination import Page, PageDep, paginate
from service_kit.request_session import ReadSessionDep

router = APIRouter(prefix="/api/v1/hour-entries", tags=["hour-entries"])
MAX_UPSTREAM_ID = 2**31 - 1  # 10000ft ids are stored as PostgreSQL integer


class UserRef(BaseModel):
    upstream_id: int = Field(description="10000ft user id")
    email: str | None
    name: str | None


class HourFlagsOut(BaseModel):
    is_billable: bool
    has_notes: bool
    has_phase: bool
    is_approved: bool
    has_proper_price: bool
    has_category: bool
    is_overtime: bool


class HourEntryOut(BaseModel):
    id: int
    upstream_id: int = Field(description="10000ft time entry id")
    date: date
    hours: float
    user: UserRef
    project: ProjectRef
    phase_name: str
    status: str = Field(description="Unsubmitted, Pending Approval or Approved")
    billable: bool = Field(description="billable by its project and phase (counts in invoices)")
    leave_type: str = Field(description="'[project]' for project work, else the leave type")
    category: str
    notes: str | None
    bill_rate: float
    money: float
    approved_at: dt.date | None
    invoice_id: uuid.UUID
    flags: HourFlagsOut


def entry_item(row: Any, scope: Scope) -> HourEntryOut:
    entry: HourEntry = row[0]
    shown = mask_leave(scope, entry)
    return HourEntryOut(
        id=entry.id,
        upstream_id=entry.upstream_id,
        date=entry.date,
        hours=entry.incurred_hours,
        user=UserRef(upstream_id=entry.user_id, email=entry.user_email, name=entry.user_name),
        project=ProjectRef(upstream_id=row[1], guid=row[2], name=row[3], client=row[4]),
        phase_name=entry.phase_name,
        status=entry.status,
        billable=entry.calculated_is_billable,
        leave_type=shown.leave_type,
        category=shown.category,
        notes=shown.notes,
        bill_rate=entry.bill_rate,
        money=entry.incurred_money,
        approved_at=entry.approved_at,
        invoice_id=entry.invoice_id,
        flags=HourFlagsOut(
            is_billable=entry.calculated_is_billable,
            has_notes=entry.calculated_has_notes,
            has_phase=entry.calculated_has_phase,
            is_approved=entry.calculated_is_approved,
            has_proper_price=entry.calculated_has_proper_price,
            has_category=entry.calculated_has_category,
            is_overtime=entry.calculated_is_overtime,
        ),
    )


def _filtered(
    statement: AnySelect,
    start: date | None,
    end: date | None,
    user: str | None,
    project: str | None,
) -> AnySelect:
    if start is not None:
        statement = statement.where(HourEntry.date >= start)
    if end is not None:
        statement = statement.where(HourEntry.date <= end)
    if user is not None:
        user_id = upstream_id(user)
        if user_id is None and "@" not in user:
            raise Problem(
                422,
                "user must be a 10000ft user id (ASCII digits) or an e-mail.",
                type_="urn:problem:validation",
            )
        statement = statement.where(
            HourEntry.user_id == user_id
            if user_id is not None
            else func.lower(HourEntry.user_email) == user.lower()
        )
    if project is not None:
        statement = statement.where(_project_condition(project))
    return statement


def upstream_id(text: str) -> int | None:
    """A 10000ft id written in ASCII digits that fits their 32-bit ids; else None. (`isdigit`
    alone takes `²` and `٣`, which int() then refuses or reads.)"""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_UPSTREAM_ID else None


def _project_condition(project: str) -> Any:
    if (project_id := upstream_id(project)) is not None:
        return Project.project_id == project_id
    try:
        return Project.guid == uuid.UUID(project)
    except ValueError:
        raise Problem(
            422,
            "project must be a 10000ft project id or a project guid.",
            type_="urn:problem:validation",
        ) from None


@router.get("", response_model=Page[HourEntryOut])
async def list_hour_entries(
    session: ReadSessionDep,
    page: PageDep,
    scope: RowScope,
    start: Annotated[Day | None, Query(description="first day, YYYY-MM-DD")] = None,
    end: Annotated[Day | None, Query(description="last day, YYYY-MM-DD (included)")] = None,
    user: Annotated[
        str | None, Query(description="10000ft user id or e-mail", max_length=255)
    ] = None,
    project: Annotated[
        str | None, Query(description="10000ft project id or project guid", max_length=64)
    ] = None,
) -> Page[HourEntryOut]:
    """Ordered by date, then user, then 10000ft id."""
    statement = entries_statement(scope=scope, start=start, end=end, user=user, project=project)
    return await paginate(session, statement, page, lambda row: entry_item(row, scope))


# Orders of `entries_statement`: a column, "-" first for descending; ties by date, person, id.
ENTRY_SORTS: dict[str, Any] = {
    "date": HourEntry.date,
    "person": HourEntry.user_name,
    "project": Project.name,
    "hours": HourEntry.incurred_hours,
    "money": HourEntry.incurred_money,
}


def entries_statement(
    *,
    scope: Scope,
    start: date | None = None,
    end: date | None = None,
    user: str | None = None,
    project: str | None = None,
    statuses: tuple[str, ...] = (),
    sort: str = "date",
) -> AnySelect:
    """The entries `scope` reaches, with their project and client (the columns `entry_item`
    reads), filtered and ordered."""
    if start is not None and end is not None and end < start:
        raise Problem(422, "end is before start.", type_="urn:problem:validation")
    column = ENTRY_SORTS[sort.removeprefix("-")]
    statement = (
        select(HourEntry, Project.project_id, Project.guid, Project.name, Client.name)
        .join(Invoice, Invoice.id == HourEntry.invoice_id)
        .join(Project, Project.guid == Invoice.project_guid)
        .join(Client, Client.id == Project.client_id)
        .where(hour_entry_visible(scope))
        .order_by(
            column.desc() if sort.startswith("-") else column,
            HourEntry.date,
            HourEntry.user_id,
            HourEntry.upstream_id,
        )
    )
    if statuses:
        statement = statement.where(HourEntry.status.in_(statuses))
    return _filtered(statement, start, end, user, project)
