"""/syncs: recent sync runs with their progress; queue one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.routing import APIRouter
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from invoice_checker.api import syncs
from invoice_checker.api.permissions import CanViewInvoices, RowScope
from invoice_checker.web.rendering import page_count, render
from invoice_checker.web.security import CsrfChecked
from service_kit.errors import Problem
from service_kit.pagination import PageParams
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/syncs")
async def sync_list(
    request: Request,
    session: SessionDep,
    principal: CanViewInvoices,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    queued: Annotated[int | None, Query()] = None,
) -> Response:
    found = await syncs.list_syncs(session, PageParams(page, PAGE_SIZE), principal)
    return render(
        request,
        "syncs.html",
        principal,
        found=found,
        pages=page_count(found.total, PAGE_SIZE),
        kinds=syncs.SyncKind.__args__,  # type: ignore[attr-defined]
        queued=queued,
    )


@router.post("/syncs", dependencies=[CsrfChecked])
async def queue_one(
    request: Request,
    session: SessionDep,
    principal: CanViewInvoices,
    scope: RowScope,
    kind: Annotated[str, Form(max_length=20)],
    start: Annotated[date | None, Form()] = None,
    end: Annotated[date | None, Form()] = None,
    force: Annotated[bool, Form()] = False,
) -> Response:
    hours = kind == "hours"
    try:
        body = syncs.SyncRequest.model_validate(
            {"kind": kind, **({"start": start, "end": end, "force": force} if hours else {})}
        )
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]) for error in exc.errors())
        raise Problem(422, f"The sync cannot be queued: {reasons}") from None
    run = await syncs.request_sync(body, session, principal, scope)
    return RedirectResponse(f"/syncs?queued={run.id}", status_code=303)
