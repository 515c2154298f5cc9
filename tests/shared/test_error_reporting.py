"""Sentry error reporting: events reach the DSN when one is set; without it nothing is sent."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import APIRouter

from licence_gateway.settings import LicenceGatewaySettings
from service_kit.app import build_app


class SentryStandIn:
    """Sentry's envelope endpoint (`POST /api/<project>/envelope/`), keeping what it receives."""

    def __init__(self) -> None:
        self.envelopes: list[list[dict[str, object]]] = []
        received = self.envelopes

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                items = [json.loads(line) for line in body.splitlines() if line.startswith(b"{")]
                received.append(items)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_address[1]}/42"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, object]]:
        return [item for items in self.envelopes for item in items if "exception" in item]


@pytest.fixture
def sentry() -> Iterator[SentryStandIn]:
    stand_in = SentryStandIn()
    yield stand_in
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)  # later tests run without a client
    stand_in.server.shutdown()


def _failing_app(database_url: str, redis_url: str, **settings: Any) -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the database caught fire")

    app = build_app(
        title="t",
        description="t",
        settings=LicenceGatewaySettings(
            database_url=database_url, redis_url=redis_url, environment="test", **settings
        ),
        application_name="licence_gateway",
        routers=[router],
        configure_logs=False,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_an_unhandled_error_reaches_sentry_when_a_dsn_is_set(
    sentry: SentryStandIn, database_url: str, redis_url: str
) -> None:
    async with _failing_app(database_url, redis_url, sentry_dsn=sentry.dsn) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    sentry_sdk.flush(timeout=5)

    [event] = sentry.events()
    [exception] = event["exception"]["values"]  # type: ignore[index]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "the database caught fire"
    assert event["tags"]["service"] == "licence_gateway"  # type: ignore[index]
    assert event["environment"] == "test"


async def test_without_a_dsn_nothing_is_sent_anywhere(
    sentry: SentryStandIn, database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even sentry_sdk's own variable is not read: the client is never started.
    monkeypatch.setenv("SENTRY_DSN", sentry.dsn)
    async with _failing_app(database_url, redis_url) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    sentry_sdk.flush(timeout=2)

    assert not sentry_sdk.get_client().is_active()
    assert sentry.envelopes == []
