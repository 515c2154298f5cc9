"""/projects/{guid}, /clients/{id} and /users/{guid}/{year}/{month} (a person's month)."""

from __future__ import annotations

import calendar
import uuid
from collections import defaultdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from invoice_checker.api import directory
from invoice_checker.api.hour_entries import entries_statement, entry_item
from invoice_checker.api.permissions import CanViewDirectory, CurrentPrincipal, RowScope
from invoice_checker.domain.slack_messages import TENKFEET_APP
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.invoice_stats import month_end
from invoice_checker.web.rendering import page_count, render, step_month
from service_kit.errors import not_found
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

INVOICES_PER_PAGE = 100


@router.get("/projects/{project_guid}")
async def project_page(
    request: Request,
    project_guid: uuid.UUID,
    session: SessionDep,
    principal: CanViewDirectory,
    scope: RowScope,
) -> Response:
    project = await directory.get_project(project_guid, session, principal, scope)
    return render(
        request,
        "project.html",
        principal,
        project=project,
        money=scope.sees_money,
        tenkfeet_app=TENKFEET_APP,
        today=date.today().isoformat(),
    )


@router.get("/clients/{client_id}")
async def client_page(
    request: Request,
    client_id: Annotated[int, Path(ge=0, le=2**31 - 1)],
    session: SessionDep,
    principal: CanViewDirectory,
    scope: RowScope,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    client = await directory.get_client(client_id, session, principal, scope)
    return render(
        request,
        "client.html",
        principal,
        client=client,
        page=page,
        pages=page_count(len(client.invoice_list), INVOICES_PER_PAGE),
        size=INVOICES_PER_PAGE,
        money=scope.sees_money,
    )


@router.get("/users/{user_guid}/{year}/{month}")
async def person_month(
    request: Request,
    user_guid: uuid.UUID,
    year: Annotated[int, Path(ge=2000, le=2100)],
    month: Annotated[int, Path(ge=1, le=12)],
    session: SessionDep,
    principal: CurrentPrincipal,
    scope: RowScope,
) -> Response:
    """The person themself, or whoever may read people's months (as the API: 404 for others)."""
    person = await session.get(TenkfeetUser, user_guid)
    if person is None or not scope.sees_person(person.email):
        raise not_found(f"person {user_guid}")
    first = date(year, month, 1)
    rows = (
        await session.execute(
            entries_statement(scope=scope, start=first, end=month_end(first), user=person.email)
        )
    ).all()
    entries = [entry_item(row, scope) for row in rows]
    per_day: dict[date, float] = defaultdict(float)
    for entry in entries:
        per_day[entry.date] += entry.hours
    weeks = [
        [(day, per_day.get(day, 0.0)) if day.month == month else None for day in week]
        for week in calendar.Calendar().monthdatescalendar(year, month)
    ]
    return render(
        request,
        "person_month.html",
        principal,
        person=person,
        first=first,
        previous=step_month(first, -1),
        next=step_month(first, 1),
        weeks=weeks,
        entries=entries,
        total=sum(per_day.values()),
        money=scope.sees_money,
    )
