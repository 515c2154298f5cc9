"""GET /healthcheck/ and /pingdom/ping.xml: the original's XML, its checks fixed, real outages."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio
from arq.connections import ArqRedis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.store.mail import Mail
from licence_gateway.store.payloads import LicencePayload, WaitingPayload
from tests.support.apps import app_client
from tests.support.infra import free_port

OK_XML = re.compile(
    r'<\?xml version="1.0" encoding="UTF-8"\?>\n'
    r"<pingdom_http_custom_check>\n"
    r"    <status>OK</status>\n"
    r"    <response_time>\d+\.\d{3}</response_time>\n"
    r"</pingdom_http_custom_check>\n\Z"
)


def failed_checks(response: httpx.Response) -> list[str]:
    assert response.status_code == 503
    assert "<status>FALSE</status>" in response.text
    return re.findall(r"<!--The following check failed: (\w+)-->\n", response.text)


@pytest_asyncio.fixture
async def client(
    lg_settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(lg_settings), db_session) as client:
        yield client


def payload(received_at: datetime, **fields: object) -> LicencePayload:
    return LicencePayload(
        icms_id=uuid.uuid4(),
        action="insert",
        reference="IMA/2022/00001",
        licence_type="SIL",
        data={},
        received_at=received_at,
        **fields,
    )


async def test_both_answer_ok_in_the_original_xml(client: httpx.AsyncClient) -> None:
    for path in ("/healthcheck/", "/pingdom/ping.xml"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert OK_XML.match(response.text), response.text


async def test_a_payload_just_received_is_not_a_failure(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # The original failed on any unprocessed payload (its time comparison was reversed).
    db_session.add(payload(datetime.now(UTC) - timedelta(seconds=30)))
    await db_session.flush()
    assert (await client.get("/healthcheck/")).status_code == 200


async def test_a_payload_waiting_longer_than_the_poll_interval_fails_the_full_check(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    db_session.add(payload(datetime.now(UTC) - timedelta(seconds=301)))
    await db_session.flush()
    assert failed_checks(await client.get("/healthcheck/")) == ["check_unprocessed_payloads"]
    assert (await client.get("/pingdom/ping.xml")).status_code == 200


async def test_old_payloads_already_sent_or_skipped_do_not_count(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    sent = payload(old)
    db_session.add_all([sent, payload(old, skip_process=True)])
    await db_session.flush()
    await db_session.execute(delete(WaitingPayload).where(WaitingPayload.payload_id == sent.id))
    assert (await client.get("/healthcheck/")).status_code == 200


async def test_a_mail_awaiting_its_reply_too_long_fails_the_full_check(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    now = datetime.now(UTC)
    db_session.add_all(
        [
            Mail(
                extract_type="licence_data",
                status="reply_pending",
                sent_at=now - timedelta(minutes=5),
            ),
            Mail(
                extract_type="licence_data",
                status="reply_processed",
                sent_at=now - timedelta(hours=5),
            ),
        ]
    )
    await db_session.flush()
    assert (await client.get("/healthcheck/")).status_code == 200
    db_session.add(
        Mail(extract_type="licence_data", status="reply_received", sent_at=now - timedelta(hours=2))
    )
    await db_session.flush()
    assert failed_checks(await client.get("/healthcheck/")) == ["check_pending_mail"]


async def test_redis_down_fails_both_checks(
    lg_settings: LicenceGatewaySettings, db_session: AsyncSession
) -> None:
    # The original "checked Redis" in a per-process memory cache, which never fails.
    offline = lg_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with app_client(create_app(offline), db_session) as client:
        for path in ("/healthcheck/", "/pingdom/ping.xml"):
            assert failed_checks(await client.get(path)) == ["check_redis"]


async def test_postgres_down_fails_every_database_check(
    lg_settings: LicenceGatewaySettings, redis: ArqRedis
) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    offline = lg_settings.model_copy(update={"database_url": url})
    async with app_client(create_app(offline)) as client:
        assert failed_checks(await client.get("/pingdom/ping.xml")) == ["check_database"]
        assert failed_checks(await client.get("/healthcheck/")) == [
            "check_database",
            "check_unprocessed_payloads",
            "check_pending_mail",
            "check_icms_refused_licences",
        ]
