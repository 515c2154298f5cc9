"""Submitting my hours from /you/hours/unsubmitted: the Submit button sends every unsubmitted
entry to 10000ft (the API's own handler) and the answer lists what became of each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from invoice_checker.api import you
from invoice_checker.api.flex import Today
from invoice_checker.api.permissions import CurrentPrincipal
from invoice_checker.web.rendering import render
from invoice_checker.web.security import CsrfChecked
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)


@router.post("/you/hours/unsubmitted", dependencies=[CsrfChecked])
async def submit_my_hours(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    today: Today,
    client: you.Tenkfeet,
) -> Response:
    outcome = await you.submit_my_hours(
        you.SubmitRequest(), request, session, principal, today, client
    )
    return render(request, "submitted.html", principal, outcome=outcome)
