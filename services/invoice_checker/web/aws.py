"""/aws and /aws/{account}: AWS accounts with their monthly costs and the projects they are
billed on (finance and admin: the permission that edits invoices' fixed rows). Linking,
unlinking and queueing a month's import need what the operations API needs: can_manage_access."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from invoice_checker.api.flex import Today
from invoice_checker.api.permissions import CanEditFixedRows, CanManageAccess
from invoice_checker.jobs.queue import job
from invoice_checker.store.directory import Client, Project
from invoice_checker.store.overviews import (
    aws_accounts,
    aws_month_split,
    link_project,
    unlink_project,
)
from invoice_checker.web.rendering import render, step_month
from invoice_checker.web.security import CsrfChecked
from service_kit.errors import Problem, not_found
from service_kit.queue import after_commit
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

MONTHS_SHOWN = 6
AccountId = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,50}$")]


def _months(last: date) -> list[date]:
    return [step_month(last, -offset) for offset in range(MONTHS_SHOWN)]


def _month(value: str | None, today: date) -> date:
    if value is None:
        return today.replace(day=1)
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise Problem(422, "month must be YYYY-MM.", type_="urn:problem:validation") from None


@router.get("/aws")
async def aws_page(
    request: Request,
    session: SessionDep,
    principal: CanEditFixedRows,
    today: Today,
    month: str | None = None,
) -> Response:
    last = _month(month, today)
    months = _months(last)
    accounts = await aws_accounts(session, months=months)
    return render(
        request,
        "aws.html",
        principal,
        accounts=accounts,
        months=months,
        month=last,
        split=aws_month_split(accounts, last),
        previous=step_month(last, -1),
        following=step_month(last, 1),
    )


@router.get("/aws/{account_id}")
async def aws_account_page(
    request: Request,
    account_id: AccountId,
    session: SessionDep,
    principal: CanEditFixedRows,
    today: Today,
) -> Response:
    months = _months(today.replace(day=1))
    found = await aws_accounts(session, months=months, account_id=account_id)
    if not found:
        raise not_found(f"AWS account {account_id}")
    projects = await session.execute(
        select(Project.guid, Client.name, Project.name)
        .join(Client, Client.id == Project.client_id)
        .where(Project.archived.is_(False), Project.is_leave.is_(False))
        .order_by(Client.name, Project.name)
    )
    return render(
        request,
        "aws_account.html",
        principal,
        account=found[0],
        months=months,
        projects=projects.all(),
    )


def _back(account_id: str, saved: str) -> RedirectResponse:
    return RedirectResponse(f"/aws/{account_id}?saved={saved}", status_code=303)


@router.post("/aws/{account_id}/projects", dependencies=[CsrfChecked])
async def link_account_project(
    account_id: AccountId,
    session: SessionDep,
    _: CanManageAccess,
    project: Annotated[uuid.UUID, Form()],
) -> Response:
    if not await aws_accounts(session, months=[], account_id=account_id):
        raise not_found(f"AWS account {account_id}")
    if await session.get(Project, project) is None:
        raise not_found(f"project {project}")
    await link_project(session, account_id, project)
    return _back(account_id, "linked")


@router.post("/aws/{account_id}/projects/{project_guid}/delete", dependencies=[CsrfChecked])
async def unlink_account_project(
    account_id: AccountId, project_guid: uuid.UUID, session: SessionDep, _: CanManageAccess
) -> Response:
    if not await unlink_project(session, account_id, project_guid):
        raise not_found(f"a link of AWS account {account_id} to project {project_guid}")
    return _back(account_id, "unlinked")


@router.post("/aws/import", dependencies=[CsrfChecked])
async def import_month(
    request: Request,
    session: SessionDep,
    _: CanManageAccess,
    month: Annotated[str, Form(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
) -> Response:
    year, number = (int(part) for part in month.split("-"))
    after_commit(session, job("import_aws_billing", year, number))
    return RedirectResponse(f"/aws?month={month}&queued={month}", status_code=303)
