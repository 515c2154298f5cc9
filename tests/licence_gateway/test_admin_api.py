"""The admin API: bearer token, problem+json, filters and paging, and a licence's whole story."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.chief import FakeReply
from licence_gateway.jobs.batching import run_batching
from licence_gateway.jobs.callbacks import run_callbacks
from licence_gateway.jobs.context import MailFlow
from licence_gateway.jobs.operations import fake_reply
from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.store.mail import ReceivedEmail
from tests.licence_gateway.icms_client import icms_client, with_hawk_key
from tests.licence_gateway.mail_flow_support import (
    IcmsStandIn,
    add_payloads,
    add_usage_mail,
    fixture_text,
    licences,
)
from tests.support.apps import app_client
from tests.support.smtp_server import LocalSmtpServer

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def admin_settings(mail_flow: MailFlow, token: str = TOKEN) -> LicenceGatewaySettings:
    return mail_flow.settings.model_copy(update={"admin_token": SecretStr(token)})


@pytest_asyncio.fixture
async def admin(mail_flow: MailFlow) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its own sessions: it reads what the jobs committed."""
    async with app_client(create_app(admin_settings(mail_flow))) as client:
        yield client


async def test_without_a_configured_token_the_admin_api_is_unavailable(
    mail_flow: MailFlow,
) -> None:
    async with app_client(create_app(admin_settings(mail_flow, token=""))) as client:
        response = await client.get("/admin/mails", headers=AUTH)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:problem:admin-not-configured"
    assert "LICENCE_GATEWAY_ADMIN_TOKEN" in response.json()["detail"]


async def test_a_missing_or_wrong_token_is_refused(admin: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await admin.get("/admin/payloads", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await admin.get("/admin/payloads", headers=AUTH)).status_code == 200


async def test_a_licence_can_be_followed_from_its_post_to_the_icms_callback(
    mail_flow: MailFlow,
    admin: httpx.AsyncClient,
    chief_smtp: LocalSmtpServer,
    icms_stand_in: IcmsStandIn,
) -> None:
    licence = licences("fa_sil_insert")[0]
    async with icms_client(with_hawk_key(mail_flow.settings), None) as icms:
        posted = await icms.post("/mail/update-licence/", {"licence": licence})
    assert posted.response.status_code == 201
    await run_batching(mail_flow)
    mail_flow.settings = mail_flow.settings.model_copy(update={"environment": "development"})
    await fake_reply(mail_flow, FakeReply.ACCEPT, False, lambda _line: None)
    await run_callbacks(mail_flow)

    listed = (await admin.get("/admin/payloads", headers=AUTH)).json()
    assert listed["total"] == 1
    [summary] = listed["items"]
    assert summary["icms_id"] == licence["id"]
    assert summary["latest_batch"] == {
        "run_number": 1,
        "mail_id": 1,
        "mail_status": "reply_processed",
        "outcome": "accepted",
    }
    story = (await admin.get(f"/admin/payloads/{summary['id']}", headers=AUTH)).json()
    assert story["licence"] == licence
    [batch] = story["batches"]
    assert [(e["from_status"], e["to_status"]) for e in batch["events"]] == [
        (None, "pending"),
        ("pending", "reply_pending"),
        ("reply_pending", "reply_received"),
        ("reply_received", "reply_processed"),
    ]
    assert batch["callback"]["delivered"] is True
    assert batch["callback"]["body"] == {
        "run_number": "1",
        "accepted": [{"id": licence["id"]}],
        "rejected": [],
    }
    [(_path, delivered)] = icms_stand_in.received
    assert json.loads(delivered) == batch["callback"]["body"]

    mail = (await admin.get("/admin/mails/1", headers=AUTH)).json()
    assert (mail["status"], mail["run_number"], mail["send_attempts"]) == ("reply_processed", 1, 1)
    assert mail["file_name"].startswith("CHIEF_LIVE_ILBDOTI_licenceData_1_")
    assert [p["reference"] for p in mail["payloads"]] == [licence["reference"]]
    assert len(mail["events"]) == 4


async def test_mails_are_paged_and_filtered(mail_flow: MailFlow, admin: httpx.AsyncClient) -> None:
    for _ in range(3):
        await add_usage_mail(mail_flow.engine, fixture_text("usage_7132"))

    first = (await admin.get("/admin/mails?page_size=2", headers=AUTH)).json()
    second = (await admin.get("/admin/mails?page_size=2&page=2", headers=AUTH)).json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    assert [m["id"] for m in first["items"] + second["items"]] == [3, 2, 1]

    by_status = await admin.get("/admin/mails?status=reply_processed", headers=AUTH)
    assert by_status.json()["total"] == 0
    usage = await admin.get(
        "/admin/mails?extract_type=usage_data&status=reply_received", headers=AUTH
    )
    assert usage.json()["total"] == 3
    future = await admin.get("/admin/mails?created_from=2999-01-01T00:00:00Z", headers=AUTH)
    assert future.json()["total"] == 0


async def test_payloads_are_filtered_by_state(
    mail_flow: MailFlow, admin: httpx.AsyncClient, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_oil_insert"), skip=True)
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    await run_batching(mail_flow)
    await add_payloads(mail_flow.engine, licences("sanction_insert"))

    async def references(state: str) -> list[str]:
        page = (await admin.get(f"/admin/payloads?state={state}", headers=AUTH)).json()
        return [item["reference"] for item in page["items"]]

    assert await references("skipped") == ["IMA/2022/00001"]
    assert await references("batched") == ["IMA/2022/00003"]
    assert await references("waiting") == [licences("sanction_insert")[0]["reference"]]
    assert await references("accepted") == []


async def test_bad_queries_get_problem_details_not_500(admin: httpx.AsyncClient) -> None:
    for path, status in (
        ("/admin/mails?status=sent", 422),
        ("/admin/mails?page=0", 422),
        ("/admin/payloads?received_from=yesterday", 422),
        ("/admin/mails/99", 404),
        ("/admin/payloads/99", 404),
        ("/admin/mails/abc", 422),
    ):
        response = await admin.get(path, headers=AUTH)
        assert response.status_code == status, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_flagged_emails_are_listed(mail_flow: MailFlow, admin: httpx.AsyncClient) -> None:
    async with AsyncSession(mail_flow.engine) as session:
        for number, flag in ((1, None), (2, "run_number_mismatch")):
            session.add(
                ReceivedEmail(
                    message_id=f"<{number}@hmrc.test>",
                    uidl=str(number),
                    sender="chief@hmrc.test",
                    subject=f"CHIEF_licenceReply_{number}_202401010000",
                    kind="licence_reply",
                    run_number=number,
                    raw=b"raw",
                    flag=flag,
                    flag_detail="mail 1 awaits run 7" if flag else None,
                )
            )
        await session.commit()

    flagged = (await admin.get("/admin/received-emails?flagged=true", headers=AUTH)).json()
    clean = (await admin.get("/admin/received-emails?flagged=false", headers=AUTH)).json()
    every = (await admin.get("/admin/received-emails", headers=AUTH)).json()

    assert [(e["run_number"], e["flag"]) for e in flagged["items"]] == [(2, "run_number_mismatch")]
    assert flagged["items"][0]["flag_detail"] == "mail 1 awaits run 7"
    assert [e["run_number"] for e in clean["items"]] == [1]
    assert every["total"] == 2
