"""/aws and /aws/{account}: AWS linked accounts, their monthly costs and the projects they are
billed on (finance and admin: every project's money, `can_see_all_projects`). Linking,
unlinking and importing a month call the API's routes, so they need `can_manage_access` as
there."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Annotated

from fastapi import Depends, Form, Path, Query, Request
from fastapi.routing import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

from invoice_checker.api import operations
from invoice_checker.api.permissions import CanManageAccess, require
from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.store import aws
from invoice_checker.web.rendering import done_redirect, render
from invoice_checker.web.security import CsrfChecked
from service_kit.db import SessionDep
from service_kit.errors import Problem, not_found

router = APIRouter(include_in_schema=False)

CanSeeAllProjects = Annotated[Principal, Depends(require(Permission.SEE_ALL_PROJECTS))]
AccountId = Annotated[str, Path(max_length=50)]
Done = Annotated[str | None, Query(max_length=300)]
# Months shown as columns on the account list (the newest with any costs).
LIST_MONTHS = 3


@router.get("/aws")
async def account_list(
    request: Request, session: SessionDep, principal: CanSeeAllProjects, done: Done = None
) -> Response:
    costs = await aws.monthly_costs(session)
    months = sorted({cost.month for cost in costs}, reverse=True)[:LIST_MONTHS]
    by_account: dict[str, dict[object, list[aws.MonthlyCost]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for cost in costs:
        by_account[cost.linked_account_id][cost.month].append(cost)
    projects = defaultdict(list)
    for link in await aws.linked_projects(session):
        projects[link.linked_account_id].append(link)
    return render(
        request,
        "aws.html",
        principal,
        accounts=await aws.linked_accounts(session),
        months=months,
        costs=by_account,
        projects=projects,
        done=done,
    )


@router.get("/aws/{account_id}")
async def account_page(
    request: Request,
    session: SessionDep,
    principal: CanSeeAllProjects,
    account_id: AccountId,
    done: Done = None,
) -> Response:
    account = await session.get(aws.AmazonLinkedAccount, account_id)
    if account is None:
        raise not_found(f"AWS account {account_id}")
    links = await aws.linked_projects(session, account_id)
    linked = {link.project_guid for link in links}
    may_change = principal.can(Permission.MANAGE_ACCESS)
    choices = await aws.project_choices(session) if may_change else []
    return render(
        request,
        "aws_account.html",
        principal,
        account=account,
        costs=await aws.monthly_costs(session, account_id),
        links=links,
        choices=[(guid, label) for guid, label in choices if guid not in linked],
        done=done,
    )


@router.post("/aws/{account_id}/link", dependencies=[CsrfChecked])
async def link(
    session: SessionDep,
    principal: CanManageAccess,
    account_id: AccountId,
    project: Annotated[uuid.UUID, Form()],
) -> Response:
    made = await operations.link_aws_account(project, account_id, session, principal)
    return done_redirect(
        f"/aws/{account_id}", "Linked." if made.created else "It was linked already."
    )


@router.post("/aws/{account_id}/unlink", dependencies=[CsrfChecked])
async def unlink(
    session: SessionDep,
    principal: CanManageAccess,
    account_id: AccountId,
    project: Annotated[uuid.UUID, Form()],
) -> Response:
    await operations.unlink_aws_account(project, account_id, session, principal)
    return done_redirect(f"/aws/{account_id}", "Unlinked.")


@router.post("/aws/imports", dependencies=[CsrfChecked])
async def import_month(
    request: Request,
    principal: CanManageAccess,
    month: Annotated[str, Form(max_length=7)],
) -> Response:
    try:
        body = operations.AwsImportRequest(month=month.strip())
    except ValidationError:
        raise Problem(422, "Give the month as YYYY-MM, for example 2026-10.") from None
    queued = await operations.aws_import(body, request, principal)
    return done_redirect("/aws", f"The import of {body.month} is queued ({queued.job_id}).")
