"""/hours (the entry browser) and /you/hours/unsubmitted (my own)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import Select
from starlette.responses import Response

from invoice_checker.api.hour_entries import entries_statement, entry_item
from invoice_checker.api.permissions import CurrentPrincipal, RowScope
from invoice_checker.domain.permissions import Principal
from invoice_checker.domain.scopes import Scope
from invoice_checker.store.invoice_stats import month_end
from invoice_checker.web.rendering import page_count, render
from service_kit.pagination import PageParams, paginate
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
STATUSES = ("Unsubmitted", "Pending Approval", "Approved")
HourSort = Literal[
    "date", "-date", "person", "-person", "project", "-project", "hours", "-hours",
    "money", "-money",
]  # fmt: skip
Page = Annotated[int, Query(ge=1, le=100_000)]


@router.get("/hours")
async def hour_browser(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    scope: RowScope,
    start: date | None = None,
    end: date | None = None,
    user: Annotated[str, Query(max_length=255)] = "",
    project: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[list[Literal[STATUSES]] | None, Query()] = None,  # type: ignore[valid-type]
    sort: HourSort = "-date",
    page: Page = 1,
) -> Response:
    if start is None and end is None:  # the original's default: this month
        start = date.today().replace(day=1)
        end = month_end(start)
    statement = entries_statement(
        scope=scope,
        start=start,
        end=end,
        user=user.strip() or None,
        project=project.strip() or None,
        statuses=tuple(status or ()),
        sort=sort,
    )
    return await _entries_page(
        request,
        session,
        principal,
        scope,
        statement,
        page,
        "hours.html",
        start=start,
        end=end,
        user=user,
        project=project,
        statuses=STATUSES,
        chosen=set(status or ()),
        sort=sort,
        money=scope.sees_money,
    )


@router.get("/you/hours/unsubmitted")
async def my_unsubmitted(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    scope: RowScope,
    page: Page = 1,
) -> Response:
    statement = entries_statement(
        scope=scope, user=principal.email, statuses=("Unsubmitted",), sort="-date"
    )
    return await _entries_page(
        request, session, principal, scope, statement, page, "unsubmitted.html"
    )


async def _entries_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    scope: Scope,
    statement: Select[Any],
    page: int,
    template: str,
    **context: Any,
) -> Response:
    """One page of entries, as the API's hour-entry list shows them to this person."""
    found = await paginate(
        session, statement, PageParams(page, PAGE_SIZE), lambda row: entry_item(row, scope)
    )
    pages = page_count(found.total, PAGE_SIZE)
    return render(request, template, principal, found=found, pages=pages, **context)
