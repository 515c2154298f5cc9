"""/people (search by name; a month of everyone's project work) and /users/{guid} (a person's
months, with hours per project and billable share). Permissions and row scopes are the API's:
the pages call its handlers."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from invoice_checker.api import directory
from invoice_checker.api.permissions import CanViewReports, CurrentPrincipal, RowScope
from invoice_checker.store.invoice_stats import month_end
from invoice_checker.store.overviews import person_project_hours
from invoice_checker.web.rendering import render, step_month
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

MonthParam = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


def _first(month: str | None) -> date:
    return date.fromisoformat(f"{month}-01") if month else date.today().replace(day=1)


@router.get("/people")
async def people_page(
    request: Request,
    session: SessionDep,
    principal: CanViewReports,
    month: MonthParam = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    first = _first(month)
    people = await directory.list_people(session, principal, first.strftime("%Y-%m"))
    wanted = q.strip().lower()
    if wanted:
        people = [p for p in people if wanted in f"{p.name or ''} {p.email}".lower()]
    return render(
        request,
        "people.html",
        principal,
        people=people,
        month=first,
        previous=step_month(first, -1),
        following=step_month(first, 1),
        q=q,
    )


@router.get("/users/{user_guid}")
async def person_page(
    request: Request,
    user_guid: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    scope: RowScope,
    month: MonthParam = None,
) -> Response:
    first = _first(month)
    person = await directory.get_person(user_guid, session, scope, first.strftime("%Y-%m"))
    projects = await person_project_hours(session, user_guid, first=first, last=month_end(first))
    return render(
        request,
        "person.html",
        principal,
        person=person,
        projects=projects,
        month=first,
        previous=step_month(first, -1),
        following=step_month(first, 1),
    )
