"""The pool connections direct routes keep between requests (`db.KeptConnections`): reused while
they work, as many as were in use at once up to the limit, discarded when their work raised,
given back to the pool when old enough to be recycled, and all given back on close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from service_kit import db
from service_kit.db import KeptConnections, create_engine


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


def checked_out(engine: AsyncEngine) -> int:
    return engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]


async def backend_of(kept: KeptConnections) -> int:
    async with kept.connection() as driver:
        assert not driver.is_in_transaction()  # autocommit: each statement commits by itself
        return int(await driver.fetchval("SELECT pg_backend_pid()"))


async def test_the_connection_used_is_kept_for_the_next_request(engine: AsyncEngine) -> None:
    kept = KeptConnections(engine, keep=2)
    first = await backend_of(kept)
    assert await backend_of(kept) == first
    assert checked_out(engine) == 1
    await kept.aclose()
    assert checked_out(engine) == 0


async def test_as_many_are_kept_as_were_in_use_at_once_up_to_the_limit(
    engine: AsyncEngine,
) -> None:
    kept = KeptConnections(engine, keep=2)
    in_use = asyncio.Barrier(3)

    async def use() -> int:
        async with kept.connection() as driver:
            await in_use.wait()
            return int(await driver.fetchval("SELECT pg_backend_pid()"))

    backends = await asyncio.gather(use(), use(), use())
    assert len(set(backends)) == 3
    assert checked_out(engine) == 2  # the third went back to the pool
    again = {await backend_of(kept), await backend_of(kept)}
    assert again <= set(backends)
    await kept.aclose()
    assert checked_out(engine) == 0


async def test_a_connection_whose_work_raised_is_discarded(engine: AsyncEngine) -> None:
    kept = KeptConnections(engine, keep=2)
    first = await backend_of(kept)
    with pytest.raises(ZeroDivisionError):
        async with kept.connection():
            raise ZeroDivisionError
    assert checked_out(engine) == 0
    assert await backend_of(kept) != first
    await kept.aclose()


async def test_a_connection_older_than_the_recycle_age_goes_back_to_the_pool(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "POOL_RECYCLE_SECONDS", -1)
    kept = KeptConnections(engine, keep=2)
    await backend_of(kept)
    assert checked_out(engine) == 0
    await kept.aclose()


async def test_after_close_nothing_is_kept(engine: AsyncEngine) -> None:
    kept = KeptConnections(engine, keep=2)
    await kept.aclose()
    await backend_of(kept)
    assert checked_out(engine) == 0
