"""The session a request gets: its transaction, committed when the route returns, and the
read-only variant. FastAPI's dependencies; `service_kit.db` stays free of the web framework."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, NewType

from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from service_kit.queue import commit, rollback
from service_kit.state import app_lifespan_state, lifespan_state

ReadSession = NewType("ReadSession", AsyncSession)
"""A session that only reads, in autocommit; see `get_read_session`."""


# The dependencies below are `async def` although they never wait: FastAPI runs a plain `def`
# dependency in a worker thread, and that hop costs far more CPU than the lookup.
async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """Where request sessions come from: the lifespan's (tests bind theirs to a savepoint)."""
    return lifespan_state(request).sessionmaker


async def get_read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return lifespan_state(request).read_sessionmaker


async def get_session(
    request: Request,
    sessionmaker: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the route returns, rolled back when it raises.

    Routes do not commit. The commit runs before the response is sent (the dependency's scope is
    "function"), so a 2xx means committed, and a failed commit answers an error instead. Jobs
    registered with `queue.after_commit` are enqueued once the commit succeeded.
    """
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await rollback(session)
            raise
        await commit(session, lifespan_state(request).redis)


ReadSessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_read_sessionmaker)]


async def get_read_session(sessionmaker: ReadSessionmakerDep) -> AsyncIterator[ReadSession]:
    """A session for reads only: its connections run in autocommit (no BEGIN and ROLLBACK round
    trips) and it is never committed, so each statement sees the latest committed rows."""
    async with sessionmaker() as session:
        yield ReadSession(session)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[ReadSession, Depends(get_read_session, scope="function")]


async def route_read_sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """`get_read_sessionmaker` for a route answered outside FastAPI's dependencies (a direct
    route): the lifespan's, or a test's override of it (a function of no arguments)."""
    override = app.dependency_overrides.get(get_read_sessionmaker)
    if override is None:
        return app_lifespan_state(app).read_sessionmaker
    found = override()
    return await found if inspect.isawaitable(found) else found  # type: ignore[no-any-return]


def route_connection(app: FastAPI) -> AbstractAsyncContextManager[Any]:
    """An asyncpg connection for a route answered outside FastAPI's dependencies (a direct
    route), from where `get_session`'s sessions come from, without a session's bookkeeping.

    That is a connection of the app's engine pool, on which no transaction is begun: each
    statement commits by itself. The direct routes keep the connections they used checked out
    between requests (`db.KeptConnections`); one whose work raised is discarded, as its state
    is unknown (a statement may have been cut off, or the server gone). When a test has
    overridden `get_sessionmaker` (with a function of no arguments) to join its own
    transaction, it is that transaction's connection, and the route's statements run in a
    savepoint of their own, as a request session's would.
    """
    override = app.dependency_overrides.get(get_sessionmaker)
    if override is not None:
        return _overridden_connection(override)
    return app_lifespan_state(app).kept_connections.connection()


@asynccontextmanager
async def _overridden_connection(override: Callable[[], Any]) -> AsyncIterator[Any]:
    async with _joined_connection(await override()) as driver:
        yield driver


@asynccontextmanager
async def _joined_connection(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    joined = sessionmaker.kw.get("bind")
    if not isinstance(joined, AsyncConnection):
        raise TypeError("a get_sessionmaker override reaching direct routes binds a connection")
    async with joined.begin_nested():
        yield (await joined.get_raw_connection()).driver_connection
