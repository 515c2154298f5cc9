"""A direct route (`ServiceApp.add_direct_route`) is answered before FastAPI's router, yet inside
the app's middleware and exception handlers: its answers carry the request id, count in the
route's metrics, are refused over the body limit, and its errors answer as a route's would. Its
connection (`route_connection`) is the pool's in autocommit, or a test's joined transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from service_kit.app import DirectTakes, ServiceApp, build_app
from service_kit.errors import Problem
from service_kit.request_session import route_connection
from service_kit.settings import ServiceSettings
from tests.support.apps import app_client

LIMIT = 64


def echo_app(database_url: str, redis_url: str, takes: DirectTakes | None = None) -> ServiceApp:
    router = APIRouter()

    @router.post("/echo")
    async def echo() -> dict[str, str]:
        """What FastAPI's route would answer: never reached by POST."""
        return {"answered": "by the router"}

    @router.post("/crash")
    async def crash() -> None:
        """A routed endpoint failing as the direct one does on b"crash"."""
        raise RuntimeError("crashed")

    async def direct_echo(scope: Scope, body: bytes) -> Response:
        if body == b"refuse":
            raise Problem(409, "refused directly")
        if body == b"crash":
            raise RuntimeError("crashed")
        async with route_connection(scope["app"]) as driver:
            in_transaction = driver.is_in_transaction()
            await driver.execute("INSERT INTO direct_marks VALUES ($1)", body.decode())
        return JSONResponse({"echo": body.decode(), "in_transaction": in_transaction})

    settings = ServiceSettings(database_url=database_url, redis_url=redis_url)
    app = build_app(
        title="direct",
        description="",
        settings=settings.model_copy(update={"max_body_bytes": LIMIT}),
        application_name="test",
        routers=[router],
        configure_logs=False,
    )
    (route,) = (r for r in router.routes if isinstance(r, APIRoute) and r.path == "/echo")
    app.add_direct_route(route, direct_echo, methods=["POST"], takes=takes)
    return app


@asynccontextmanager
async def client_of(app: FastAPI, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    await session.execute(text("CREATE TEMPORARY TABLE direct_marks (name text)"))
    async with app_client(app, session) as client:
        yield client


async def test_a_direct_route_answers_inside_the_apps_middleware_and_handlers(
    db_session: AsyncSession, database_url: str, redis_url: str
) -> None:
    async with client_of(echo_app(database_url, redis_url), db_session) as client:
        answered = await client.post("/echo", content=b"a", headers={"X-Request-Id": "r-1"})
        assert answered.json() == {"echo": "a", "in_transaction": True}  # the test's, joined
        assert answered.headers["x-request-id"] == "r-1"
        refused = await client.post("/echo", content=b"refuse")
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == "refused directly"
        too_large = await client.post("/echo", content=b"x" * (LIMIT + 1))
        assert too_large.status_code == 413
        assert (await client.get("/echo")).status_code == 405  # the router's answer
        metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/echo",status="200"} 1.0' in metrics
    assert 'http_requests_total{method="POST",route="/echo",status="409"} 1.0' in metrics
    names = await db_session.scalars(text("SELECT name FROM direct_marks"))
    assert list(names) == ["a"]


async def test_an_unhandled_error_answers_as_a_routed_ones_does(
    db_session: AsyncSession, database_url: str, redis_url: str
) -> None:
    async with client_of(echo_app(database_url, redis_url), db_session) as client:
        direct = await client.post("/echo", content=b"crash")
        routed = await client.post("/crash")
        metrics = (await client.get("/metrics")).text
    assert direct.status_code == 500
    assert (direct.content, direct.headers) == (routed.content, routed.headers)
    assert 'http_requests_total{method="POST",route="/echo",status="500"} 1.0' in metrics


async def test_without_the_direct_route_the_router_answers(
    db_session: AsyncSession, database_url: str, redis_url: str
) -> None:
    app = echo_app(database_url, redis_url)
    async with client_of(app, db_session):
        routed = partial(FastAPI.__call__, app)
        transport = httpx.ASGITransport(app=routed)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.post("/echo")).json() == {"answered": "by the router"}


async def test_the_pools_connection_is_in_autocommit(database_url: str, redis_url: str) -> None:
    app = echo_app(database_url, redis_url)
    async with app_client(app) as client:
        async with route_connection(app) as driver:
            await driver.execute("CREATE TABLE IF NOT EXISTS direct_marks (name text)")
        try:
            answered = await client.post("/echo", content=b"kept")
            assert answered.json() == {"echo": "kept", "in_transaction": False}
        finally:
            async with route_connection(app) as driver:
                await driver.execute("DROP TABLE direct_marks")


async def test_a_direct_route_leaves_what_it_does_not_take_to_the_router(
    db_session: AsyncSession, database_url: str, redis_url: str
) -> None:
    app = echo_app(database_url, redis_url, takes=lambda scope: scope["query_string"] == b"")
    async with client_of(app, db_session) as client:
        taken = await client.post("/echo", content=b"a")
        left = await client.post("/echo?to=router", content=b"a")
    assert taken.json() == {"echo": "a", "in_transaction": True}
    assert left.json() == {"answered": "by the router"}
