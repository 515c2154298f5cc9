"""Run a service app in-process: its lifespan, with requests joined to the test's transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from service_kit.request_session import get_read_sessionmaker, get_sessionmaker
from tests.support.infra import free_port


def joined_sessionmakers(
    connection: AsyncConnection,
) -> tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]:
    """Sessionmakers for requests inside a test's outer transaction on `connection`.

    Each request gets its own session, whose transaction is a savepoint: the request dependency's
    commit releases it, and a session closed without committing rolls it back, so a route whose
    work is not committed loses it here as it would in production. Read sessions just read
    inside the test's transaction (they never commit or roll back)."""
    writing = async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    reading = async_sessionmaker(
        bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
    )
    return writing, reading


@asynccontextmanager
async def app_client(
    app: FastAPI, session: AsyncSession | None = None, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app over ASGI, lifespan started and stopped around it.

    With a test `session`, requests run on the same connection, each in its own session (see
    `joined_sessionmakers`). Objects the test session had loaded keep their loaded values: a
    test reading what a request changed queries it again (`populate_existing`, `refresh`)."""
    if session is not None:
        connection = await session.connection()
        writing, reading = joined_sessionmakers(connection)

        async def request_sessionmaker() -> async_sessionmaker[AsyncSession]:
            await session.flush()  # the request sees what the test has written so far
            return writing

        app.dependency_overrides[get_sessionmaker] = request_sessionmaker
        app.dependency_overrides[get_read_sessionmaker] = lambda: reading
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@contextmanager
def served_over_http(app: Any, name: str = "the app") -> Iterator[str]:
    """`app` over real HTTP on 127.0.0.1 and a free port, in a thread; yields its URL (for
    clients that need a socket: other processes, a browser)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
