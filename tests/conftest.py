"""Fixtures shared by every test: a migrated PostgreSQL database, per-test rollback, Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from arq.connections import ArqRedis
from hypothesis import settings
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from service_kit.queue import create_redis
from tests.support.database import migrated_database
from tests.support.infra import database_name_for_tests, redis_url_for_tests
from tests.support.system_tools import report_missing_tools

# CI replays the same generated examples on every run, so a failure there can be reproduced;
# developers' runs keep exploring new ones (and remember failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """After pytest's own short summary: the one line naming missing system tools."""
    yield
    report_missing_tools(terminalreporter)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return redis_url_for_tests()


@pytest_asyncio.fixture(scope="session")
async def database_url() -> str:
    """A fresh database migrated to head for both services (alembic, as in production)."""
    return await migrated_database(database_name_for_tests())


@pytest_asyncio.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def db_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits are savepoints inside one transaction rolled back after the test."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    client = create_redis(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()
