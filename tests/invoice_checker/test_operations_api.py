"""Operations that were CLI-only (issue 12): notice batches and the Slack sync
(can_send_notifications), the AWS import of a month and AWS account links (can_manage_access)."""

from __future__ import annotations

import uuid

import httpx
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.jobs.queue import QUEUE_NAME
from invoice_checker.jobs.schedules import run_scheduled_job
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.aws import AmazonLinkedAccount, ProjectAmazonAccount
from invoice_checker.store.syncs import Event
from tests.invoice_checker.invoice_factories import bearer, make_project, make_token
from tests.invoice_checker.job_context import job_ctx


async def _queued(redis: ArqRedis) -> dict[str | None, tuple[str, tuple[object, ...]]]:
    return {j.job_id: (j.function, j.args) for j in await redis.queued_jobs(queue_name=QUEUE_NAME)}


async def test_notice_batches_and_slack_sync_are_queued_for_the_worker(
    ic_client: httpx.AsyncClient,
    db_session: AsyncSession,
    redis: ArqRedis,
    ic_settings: InvoiceCheckerSettings,
) -> None:
    admin = bearer(await make_token(db_session, "admin"))
    answers = [
        await ic_client.post("/api/v1/notices/unsubmitted", json={"force": True}, headers=admin),
        await ic_client.post("/api/v1/notices/unapproved", headers=admin),
        await ic_client.post("/api/v1/notices/flex", json={"force": False}, headers=admin),
        await ic_client.post("/api/v1/slack-sync", headers=admin),
    ]
    assert [a.status_code for a in answers] == [202] * 4
    queued = await _queued(redis)
    assert [queued[a.json()["job_id"]] for a in answers] == [
        ("run_scheduled_job", ("unsubmitted_notice", True)),
        ("run_scheduled_job", ("unapproved_notice", False)),
        ("run_scheduled_job", ("flex_notice", False)),
        ("run_scheduled_job", ("slack_sync", False)),
    ]
    assert (await ic_client.post("/api/v1/notices/weekly", headers=admin)).status_code == 422
    # What the worker runs: the scheduled job itself (Slack unset here: reported, not crashed).
    ctx = job_ctx(db_session, ic_settings, redis)
    result = await run_scheduled_job(ctx, "unsubmitted_notice", True)
    assert "not configured" in str(result).lower() or "slack" in str(result).lower()
    failed = await db_session.scalar(
        select(Event).where(Event.event_type == "unsubmitted_notice").order_by(Event.id.desc())
    )
    assert failed is not None and failed.succeeded is False


async def test_aws_import_is_queued_and_projects_are_linked_to_accounts(
    ic_client: httpx.AsyncClient, db_session: AsyncSession, redis: ArqRedis
) -> None:
    admin = bearer(await make_token(db_session, "admin"))
    queued = await ic_client.post("/api/v1/aws-imports", json={"month": "2026-10"}, headers=admin)
    assert queued.status_code == 202
    assert (await _queued(redis))[queued.json()["job_id"]] == ("import_aws_billing", (2026, 10))
    for month in ("2026-13", "26-10", "0001-01", "9999-12"):
        bad = await ic_client.post("/api/v1/aws-imports", json={"month": month}, headers=admin)
        assert bad.status_code == 422, month

    project = await make_project(db_session)
    account = f"{uuid.uuid4().int % 10**12:012d}"
    db_session.add(AmazonLinkedAccount(linked_account_id=account, name="Shop prod"))
    await db_session.flush()
    path = f"/api/v1/projects/{project.guid}/aws-accounts/{account}"
    first = await ic_client.put(path, headers=admin)
    assert first.status_code == 200
    assert first.json() == {
        "project_guid": str(project.guid),
        "linked_account_id": account,
        "linked_account_name": "Shop prod",
        "created": True,
    }
    assert (await ic_client.put(path, headers=admin)).json()["created"] is False
    links = await db_session.scalars(
        select(ProjectAmazonAccount.linked_account_id).where(
            ProjectAmazonAccount.project_guid == project.guid
        )
    )
    assert list(links) == [account]
    unknown = await ic_client.put(f"/api/v1/projects/{project.guid}/aws-accounts/1", headers=admin)
    assert unknown.status_code == 404
    finance = bearer(await make_token(db_session, "finance"))
    assert (await ic_client.put(path, headers=finance)).status_code == 403
    assert (await ic_client.delete(path, headers=finance)).status_code == 403
    assert list(
        await db_session.scalars(
            select(ProjectAmazonAccount.project_guid).where(
                ProjectAmazonAccount.linked_account_id == account
            )
        )
    ) == [project.guid]

    # Unlinking stops the billing; a link that is not there is a 404 problem.
    assert (await ic_client.delete(path, headers=admin)).status_code == 204
    gone = await db_session.scalars(
        select(ProjectAmazonAccount).where(ProjectAmazonAccount.linked_account_id == account)
    )
    assert list(gone) == []
    again = await ic_client.delete(path, headers=admin)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")
