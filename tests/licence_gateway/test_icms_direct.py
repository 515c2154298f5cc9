"""The ICMS routes answered before FastAPI's routing (api.icms_direct) answer exactly as the FastAPI
routes registered for them do: each request is sent both ways to one app, and the two answers
must have the same status, the same body bytes and the same headers in the same order (the
request id and the signature vary by request: each must be there when the other's is, and mohawk
must accept each signature)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from fastapi import FastAPI
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import licence_gateway.api.icms
from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.store.payloads import Ingest, LicencePayload, NewPayload, store_payloads_on
from tests.licence_gateway.icms_client import (
    BASE_URL,
    IcmsClient,
    Signed,
    credentials,
    with_hawk_key,
)
from tests.licence_gateway.test_ingest_api import sil_body
from tests.support.apps import app_client
from tests.support.infra import free_port

UPDATE = "/mail/update-licence/"
CHECK = "/mail/check-icms-hmrc-connection/"
VARYING = {"server-authorization", "x-request-id"}


@pytest.fixture
def settings(lg_settings: LicenceGatewaySettings) -> LicenceGatewaySettings:
    return with_hawk_key(lg_settings)


@asynccontextmanager
async def both_ways(
    settings: LicenceGatewaySettings, session: AsyncSession | None
) -> AsyncIterator[tuple[IcmsClient, IcmsClient]]:
    """Clients of one app: the first as served, the second through FastAPI's routing only."""
    app = create_app(settings)
    async with app_client(app, session) as direct:
        routed_app = partial(FastAPI.__call__, app)
        transport = httpx.ASGITransport(app=routed_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as routed:
            yield IcmsClient(direct), IcmsClient(routed)


def headers_but_varying(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, "varies" if k in VARYING else v) for k, v in response.headers.multi_items()]


def assert_same_answer(direct: Signed | httpx.Response, routed: Signed | httpx.Response) -> None:
    one = direct.response if isinstance(direct, Signed) else direct
    other = routed.response if isinstance(routed, Signed) else routed
    assert (one.status_code, one.content) == (other.status_code, other.content), one.text
    assert headers_but_varying(one) == headers_but_varying(other)
    for answer in (direct, routed):
        if isinstance(answer, Signed) and "server-authorization" in answer.response.headers:
            answer.accept()


async def post_both(
    clients: tuple[IcmsClient, IcmsClient], path: str, body: Any, **options: Any
) -> tuple[Signed, Signed]:
    direct, routed = clients
    return await direct.post(path, body, **options), await routed.post(path, body, **options)


async def test_stored_repeated_and_conflicting_licences_answer_alike(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with both_ways(settings, db_session) as clients:
        body = sil_body(id=str(uuid.uuid4()))
        stored, repeated = await post_both(clients, UPDATE, body)
        assert stored.response.status_code == 201
        assert stored.response.text == json.dumps({"licence": body["licence"]})
        assert_same_answer(stored, repeated)
        # The other way round: stored through FastAPI's route, repeated directly.
        other = sil_body(id=str(uuid.uuid4()))
        routed_first = await clients[1].post(UPDATE, other)
        direct_repeat = await clients[0].post(UPDATE, other)
        assert_same_answer(direct_repeat, routed_first)
        changed = sil_body(id=body["licence"]["id"], restrictions="Other restrictions")
        direct, routed = await post_both(clients, UPDATE, changed)
        assert direct.response.status_code == 409
        assert "already received with different content" in direct.response.text
        assert_same_answer(direct, routed)
    count = select(func.count()).select_from(LicencePayload)
    assert await db_session.scalar(count) == 2


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"licence": null}',
        b'{"licence": [1]}',
        b'{"licence": {"type": "SIL", "note": "\\u0000"}}',
        b'{"licence": {"type": "SIL", "note": NaN}}',
        json.dumps(sil_body(reference="not a reference", end_date="2020-01-01")).encode(),
    ],
)
async def test_bad_bodies_answer_alike(
    body: bytes, settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with both_ways(settings, db_session) as clients:
        direct, routed = await post_both(clients, UPDATE, body)
    assert direct.response.status_code == 400
    assert_same_answer(direct, routed)


@pytest.mark.parametrize(
    ("body", "status"), [({"foo": "bar"}, 200), ({"foo": "baz"}, 400), (b"{{", 400)]
)
async def test_the_connection_check_answers_alike(
    body: Any,
    status: int,
    settings: LicenceGatewaySettings,
    db_session: AsyncSession,
    redis: ArqRedis,
) -> None:
    async with both_ways(settings, db_session) as clients:
        direct, routed = await post_both(clients, CHECK, body)
    assert direct.response.status_code == status
    assert_same_answer(direct, routed)


@pytest.mark.parametrize(
    "options",
    [
        {"credentials": credentials(key="wrong key")},
        {"_timestamp": int(time.time()) - 65},
        {"signed_body": b'{"foo": "baz"}'},
        {"signed_url": f"http://elsewhere{CHECK}"},
    ],
    ids=["bad-mac", "stale-ts", "tampered-body", "tampered-url"],
)
async def test_hawk_refusals_answer_alike(
    options: dict[str, Any],
    settings: LicenceGatewaySettings,
    db_session: AsyncSession,
    redis: ArqRedis,
) -> None:
    async with both_ways(settings, db_session) as clients:
        direct, routed = await post_both(clients, CHECK, {"foo": "bar"}, **options)
    assert direct.response.status_code == 401
    assert direct.response.content == b'{"detail":"Failed HAWK authentication"}'
    assert direct.response.headers["WWW-Authenticate"] == "Hawk"
    assert_same_answer(direct, routed)


async def test_unsigned_and_replayed_requests_answer_alike(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with both_ways(settings, db_session) as (direct, routed):
        unsigned = [await c.http.post(UPDATE, content=b"{}") for c in (direct, routed)]
        assert unsigned[0].status_code == 401
        assert_same_answer(*unsigned)
        replays = []
        for client in (direct, routed):
            first = await client.post(CHECK, {"foo": "bar"})
            request = first.response.request
            again = await client.http.post(CHECK, content=request.content, headers=request.headers)
            replays.append(Signed(again, first.sender))
    assert replays[0].response.status_code == 401
    assert "server-authorization" in replays[0].response.headers
    assert_same_answer(*replays)


async def test_nonce_store_down_answers_alike(
    settings: LicenceGatewaySettings, db_session: AsyncSession
) -> None:
    offline = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with both_ways(offline, db_session) as clients:
        direct, routed = await post_both(clients, UPDATE, sil_body())
    assert direct.response.status_code == 503
    assert direct.response.headers["Retry-After"] == "5"
    assert_same_answer(direct, routed)


async def test_database_down_answers_alike(
    settings: LicenceGatewaySettings, redis: ArqRedis
) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    async with both_ways(settings.model_copy(update={"database_url": url}), None) as clients:
        direct, routed = await post_both(clients, UPDATE, sil_body())
    assert direct.response.status_code == 503
    assert "unavailable" in direct.response.json()["detail"]
    assert_same_answer(direct, routed)


async def test_a_pooled_connection_the_server_dropped_fails_one_request_then_is_replaced(
    settings: LicenceGatewaySettings, engine: AsyncEngine, redis: ArqRedis
) -> None:
    """The store runs on the driver, outside SQLAlchemy: the pool must still drop a connection
    the server closed, or every request taking it would fail."""
    ids = [str(uuid.uuid4()) for _ in range(3)]
    try:
        async with both_ways(settings, None) as (direct, _):
            assert (await direct.post(UPDATE, sil_body(id=ids[0]))).response.status_code == 201
            async with engine.connect() as connection:
                dropped = await connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database()"
                        " AND application_name = 'licence_gateway'"
                    )
                )
            assert dropped == 1
            after = [(await direct.post(UPDATE, sil_body(id=i))).response for i in ids[1:]]
        # 503 when the driver had seen the connection close, 500 when the query met the server's
        # "terminating connection" (as the FastAPI route answers both).
        assert after[0].status_code in (500, 503)
        assert after[1].status_code == 201
    finally:
        async with engine.begin() as connection:
            stored = LicencePayload.icms_id.in_([uuid.UUID(i) for i in ids])
            await connection.execute(delete(LicencePayload).where(stored))


LIMIT = 2048


async def body_of(size: int) -> AsyncIterator[bytes]:
    yield b" " * size


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_too_large_bodies_answer_alike(
    chunked: bool, settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    limited = settings.model_copy(update={"max_body_bytes": LIMIT})
    async with both_ways(limited, db_session) as clients:
        answers = [
            await c.http.post(UPDATE, content=body_of(LIMIT + 1) if chunked else b" " * (LIMIT + 1))
            for c in clients
        ]
    assert answers[0].status_code == 413
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert_same_answer(*answers)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
@pytest.mark.parametrize("path", [UPDATE, CHECK])
async def test_other_methods_answer_alike(
    method: str,
    path: str,
    settings: LicenceGatewaySettings,
    db_session: AsyncSession,
    redis: ArqRedis,
) -> None:
    async with both_ways(settings, db_session) as clients:
        answers = [await c.http.request(method, path) for c in clients]
    assert answers[0].status_code == 405
    assert_same_answer(*answers)


async def test_a_nul_in_the_query_answers_alike(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with both_ways(settings, db_session) as clients:
        direct, routed = await post_both(clients, CHECK + "?x=%00", {"foo": "bar"})
    assert direct.response.status_code == 400
    assert_same_answer(direct, routed)


async def test_with_hawk_disabled_unsigned_requests_answer_alike(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    disabled = settings.model_copy(update={"hawk_disabled": True})
    body = json.dumps(sil_body(id=str(uuid.uuid4()))).encode()
    async with both_ways(disabled, db_session) as clients:
        answers = [await c.http.post(UPDATE, content=body) for c in clients]
    assert answers[0].status_code == 201
    assert "server-authorization" not in answers[0].headers
    assert_same_answer(*answers)


async def test_an_unexpected_error_answers_alike(
    settings: LicenceGatewaySettings,
    db_session: AsyncSession,
    redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(licence: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(licence_gateway.api.icms, "validate_licence", broken)
    async with both_ways(settings, db_session) as clients:
        direct, routed = await post_both(clients, UPDATE, sil_body())
    assert direct.response.status_code == 500
    assert direct.response.headers["content-type"] == "application/problem+json"
    assert_same_answer(direct, routed)


async def test_the_request_id_sent_is_answered_and_metrics_name_the_route(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with both_ways(settings, db_session) as (direct, _):
        response = await direct.http.post(UPDATE, content=b"{}", headers={"X-Request-Id": "r-1"})
        assert response.headers["x-request-id"] == "r-1"
        metrics = (await direct.http.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/mail/update-licence/",status="401"}' in (
        metrics
    )


async def test_concurrent_licences_are_stored_together_each_answering_as_if_alone(
    settings: LicenceGatewaySettings,
    db_session: AsyncSession,
    redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[int] = []

    async def slow_store(driver: Any, payloads: Sequence[NewPayload]) -> list[Ingest]:
        batches.append(len(payloads))
        await asyncio.sleep(0.05)  # the requests arriving meanwhile wait for the next batch
        return await store_payloads_on(driver, payloads)

    monkeypatch.setattr("licence_gateway.api.icms_direct.store_payloads_on", slow_store)
    body = sil_body(id=str(uuid.uuid4()))
    changed = sil_body(id=body["licence"]["id"], restrictions="Other restrictions")
    others = [sil_body(id=str(uuid.uuid4())) for _ in range(4)]
    async with both_ways(settings, db_session) as (direct, _):
        first = await asyncio.gather(direct.post(UPDATE, others[0]), direct.post(UPDATE, body))
        sent = [body, *others[1:], body, changed]
        answers = [*first, *await asyncio.gather(*(direct.post(UPDATE, b) for b in sent))]
    assert sum(batches) == len(answers) and max(batches) > 1, batches
    statuses = [answer.response.status_code for answer in answers]
    # `body` was stored before the others: its repeats are 201s, the changed licence a 409.
    assert statuses == [201] * 7 + [409]
    for answer, sent_body in zip(answers, [others[0], body, *sent], strict=True):
        answer.accept()
        if answer.response.status_code == 201:
            assert answer.response.text == json.dumps(sent_body)
    stored = await db_session.scalars(select(LicencePayload.icms_id))
    assert len(set(stored.all())) == 5


async def test_a_licence_failing_its_batch_fails_alone(
    settings: LicenceGatewaySettings,
    db_session: AsyncSession,
    redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poison = str(uuid.uuid4())
    failed: list[int] = []

    async def failing_store(driver: Any, payloads: Sequence[NewPayload]) -> list[Ingest]:
        await asyncio.sleep(0.05)  # the requests arriving meanwhile wait for the next batch
        if any(str(payload.icms_id) == poison for payload in payloads):
            failed.append(len(payloads))
            raise RuntimeError("a statement failed")
        return await store_payloads_on(driver, payloads)

    monkeypatch.setattr("licence_gateway.api.icms_direct.store_payloads_on", failing_store)
    bodies = [sil_body(id=str(uuid.uuid4())) for _ in range(4)]
    bodies.insert(2, sil_body(id=poison))
    async with both_ways(settings, db_session) as (direct, _):
        answers = await asyncio.gather(*(direct.post(UPDATE, body) for body in bodies))
    assert [answer.response.status_code for answer in answers] == [201, 201, 500, 201, 201]
    assert failed[0] > 1 and failed[1:] == [1], failed  # its batch, then it alone
    stored = await db_session.scalars(select(LicencePayload.icms_id))
    assert {str(icms_id) for icms_id in stored} == {b["licence"]["id"] for b in bodies} - {poison}
