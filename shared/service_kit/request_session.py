"""The session a request gets: its transaction, committed when the route returns, and the
read-only variant. FastAPI's dependencies; `service_kit.db` stays free of the web framework."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, NewType

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.queue import commit, rollback
from service_kit.state import lifespan_state

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
