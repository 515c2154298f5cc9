"""Operations that were CLI-only: notice batches and the Slack sync (can_send_notifications), the
AWS import of a month and linking a project to an AWS account or unlinking it
(can_manage_access). A job is queued for the worker and answered 202; a link is made or removed
at once."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from invoice_checker.api.permissions import CanManageAccess, CanSendNotifications
from invoice_checker.domain.date_ranges import MONTH_PATTERN
from invoice_checker.jobs.queue import job
from invoice_checker.store.aws import AmazonLinkedAccount
from invoice_checker.store.directory import Project
from invoice_checker.store.overviews import link_project, unlink_project
from service_kit.errors import Problem, not_found
from service_kit.queue import enqueue
from service_kit.request_session import SessionDep
from service_kit.state import get_redis

router = APIRouter(prefix="/api/v1", tags=["operations"])

NoticeKind = Literal["unsubmitted", "unapproved", "flex"]
QUEUED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Queued for the worker"},
    503: {"description": "The queue (Redis) is unreachable; nothing was queued"},
}


class NoticeRequest(BaseModel):
    force: bool = Field(
        default=False, description="Send again even if already sent for the period (CLI --force)"
    )


class AwsImportRequest(BaseModel):
    month: str = Field(pattern=MONTH_PATTERN, examples=["2026-10"], description="YYYY-MM")


class JobQueued(BaseModel):
    job_id: str
    function: str
    args: list[Any]


class AwsLink(BaseModel):
    project_guid: uuid.UUID
    linked_account_id: str
    linked_account_name: str
    created: bool = Field(description="false: the link was already there")


async def _queue(request: Request, function: str, *args: Any) -> JobQueued:
    job_id = f"{function}:{uuid.uuid4().hex}"
    if not await enqueue(get_redis(request), job(function, *args, job_id=job_id)):
        raise Problem(503, "The job queue is unreachable; try again.", type_="urn:problem:queue")
    return JobQueued(job_id=job_id, function=function, args=list(args))


@router.post(
    "/notices/{kind}",
    status_code=202,
    summary="Send a Slack notice batch now: unsubmitted or unapproved hours, or flex saldos",
    responses=QUEUED,
)
async def send_notices(
    kind: NoticeKind, request: Request, _: CanSendNotifications, body: NoticeRequest | None = None
) -> JobQueued:
    force = body.force if body else False
    return await _queue(request, "run_scheduled_job", f"{kind}_notice", force)


@router.post(
    "/slack-sync",
    status_code=202,
    summary="Sync Slack users (Slack ids by e-mail) and channels now",
    responses=QUEUED,
)
async def slack_sync(request: Request, _: CanSendNotifications) -> JobQueued:
    return await _queue(request, "run_scheduled_job", "slack_sync", False)


@router.post(
    "/aws-imports",
    status_code=202,
    summary="Import a month's AWS billing CSV from S3 (safe to repeat)",
    responses=QUEUED,
)
async def aws_import(body: AwsImportRequest, request: Request, _: CanManageAccess) -> JobQueued:
    year, month = (int(part) for part in body.month.split("-"))
    return await _queue(request, "import_aws_billing", year, month)


@router.put(
    "/projects/{project_guid}/aws-accounts/{linked_account_id}",
    summary="Bill an AWS linked account's costs on this project's invoices",
    responses={404: {"description": "No such project, or no such AWS account imported yet"}},
)
async def link_aws_account(
    project_guid: uuid.UUID,
    linked_account_id: Annotated[str, Path(max_length=50)],
    session: SessionDep,
    _: CanManageAccess,
) -> AwsLink:
    if await session.get(Project, project_guid) is None:
        raise not_found(f"project {project_guid}")
    account = await session.get(AmazonLinkedAccount, linked_account_id)
    if account is None:
        raise not_found(f"AWS account {linked_account_id} (import a month that bills it first)")
    # The one linking rule: the project's invoices of the account's months exist and total it.
    result = await link_project(session, linked_account_id, project_guid)
    return AwsLink(
        project_guid=project_guid,
        linked_account_id=linked_account_id,
        linked_account_name=account.name,
        created=result.created,
    )


@router.delete(
    "/projects/{project_guid}/aws-accounts/{linked_account_id}",
    summary="Stop billing an AWS linked account's costs on this project's invoices",
    status_code=204,
    responses={404: {"description": "The project and the account are not linked"}},
)
async def unlink_aws_account(
    project_guid: uuid.UUID,
    linked_account_id: Annotated[str, Path(max_length=50)],
    session: SessionDep,
    _: CanManageAccess,
) -> Response:
    if not await unlink_project(session, linked_account_id, project_guid):
        raise not_found(f"link of project {project_guid} and AWS account {linked_account_id}")
    await session.commit()
    return Response(status_code=204)
