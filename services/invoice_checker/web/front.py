"""The front page, where signing in lands: what waits for me, this and last month, my projects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from invoice_checker.api.invoices import _list_item
from invoice_checker.api.permissions import CurrentPrincipal, RowScope
from invoice_checker.domain.permissions import Permission
from invoice_checker.domain.scopes import ProjectReach
from invoice_checker.store import reports, sync_runs
from invoice_checker.store.invoice_list import InvoiceFilters, invoice_page, invoice_totals
from invoice_checker.web.rendering import render, step_month
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

STALE_SYNC = timedelta(hours=2)
WAITING_LIMIT = 50


async def sync_banner(session: SessionDep) -> str | None:
    """Why the hours may be out of date, or None when the last hour sync is recent and good."""
    runs = await sync_runs.latest_runs(session, "hours", limit=20)
    finished = [run for run in runs if run.finished_at is not None]
    if not runs:
        return "Hours have never been synced from 10000ft."
    last = runs[0]
    if last.status == "failed":
        return f"The last hour sync failed: {last.error or 'no reason recorded'}."
    if finished and datetime.now(UTC) - finished[0].finished_at > STALE_SYNC:  # type: ignore[operator]
        when = f"{finished[0].finished_at:%Y-%m-%d %H:%M}"
        return f"The last hour sync finished {when} UTC, over 2 hours ago."
    return None


@router.get("/")
async def front_page(
    request: Request, session: SessionDep, principal: CurrentPrincipal, scope: RowScope
) -> Response:
    today = date.today()
    this_month = today.replace(day=1)
    sections = []
    if principal.can(Permission.CHECK_INVOICES):
        mine = InvoiceFilters(lead=principal.email, states=("C",), hide_minor=True)
        found = await invoice_page(
            session, mine, "-month", scope=scope, limit=WAITING_LIMIT, offset=0
        )
        sections.append(("Your projects' invoices to approve", found, "approve"))
    if principal.can(Permission.SEND_INVOICES):
        unsent = InvoiceFilters(states=("A", "P"), hide_minor=True)
        found = await invoice_page(
            session, unsent, "-month", scope=scope, limit=WAITING_LIMIT, offset=0
        )
        sections.append(("Approved invoices to send", found, "send"))
    waiting = [
        (title, [_list_item(row) for row in found.rows], found.total, kind)
        for title, found, kind in sections
    ]
    months = []
    if principal.can(Permission.VIEW_INVOICES):
        for first in (this_month, step_month(this_month, -1)):
            filters = InvoiceFilters(month=first, hide_minor=True)
            months.append((first, await invoice_totals(session, filters, scope=scope)))
    projects = await reports.projects_with_sums(session, scope, lead=principal.email)
    me = await reports.person_front_page(session, email=principal.email, today=today)
    return render(
        request,
        "front.html",
        principal,
        waiting=waiting,
        months=months,
        projects=projects,
        me=me,
        banner=await sync_banner(session),
        all_figures=scope.reach is ProjectReach.ALL,
        money=scope.sees_money,
    )
