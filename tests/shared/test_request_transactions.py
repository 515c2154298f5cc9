"""The request session owns the transaction: a route's work is kept only when the session
dependency commits it, after-commit work runs only then, and the test app gives every request
its own session, so a route whose work is never committed fails its test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.app import build_app
from service_kit.errors import Problem
from service_kit.queue import after_commit
from service_kit.request_session import ReadSessionDep, SessionDep, get_sessionmaker
from service_kit.settings import ServiceSettings
from tests.support.apps import app_client

INSERT = text("INSERT INTO request_marks (name) VALUES (:name)")


async def uncommitted_session(
    sessionmaker: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """What the session dependency was before it owned the transaction: it only yields."""
    async with sessionmaker() as session:
        yield session


def marks_app(database_url: str, redis_url: str, calls: list[str]) -> FastAPI:
    router = APIRouter()

    @router.post("/kept/{name}", status_code=204)
    async def kept(name: str, session: SessionDep) -> None:
        await session.execute(INSERT, {"name": name})
        after_commit(session, lambda: calls.append(name))

    @router.post("/refused/{name}", status_code=204)
    async def refused(name: str, session: SessionDep) -> None:
        await session.execute(INSERT, {"name": name})
        after_commit(session, lambda: calls.append(name))
        raise Problem(409, "refused after writing")

    @router.post("/forgotten/{name}", status_code=204)
    async def forgotten(
        name: str, session: Annotated[AsyncSession, Depends(uncommitted_session)]
    ) -> None:
        await session.execute(INSERT, {"name": name})

    @router.get("/read")
    async def read(session: ReadSessionDep) -> dict[str, bool]:
        """Whether PostgreSQL holds a transaction open around a read session's statement."""
        connection = await session.connection()
        await connection.execute(text("SELECT 1"))
        raw = (await connection.get_raw_connection()).driver_connection
        return {"in_transaction": bool(raw and raw.is_in_transaction())}

    settings = ServiceSettings(database_url=database_url, redis_url=redis_url)
    return build_app(
        title="marks",
        description="",
        settings=settings,
        application_name="test",
        routers=[router],
        configure_logs=False,
    )


async def _names(session: AsyncSession) -> list[str]:
    return list(await session.scalars(text("SELECT name FROM request_marks ORDER BY name")))


async def test_only_work_the_session_dependency_commits_is_kept(
    db_session: AsyncSession, database_url: str, redis_url: str
) -> None:
    await db_session.execute(text("CREATE TEMPORARY TABLE request_marks (name text)"))
    calls: list[str] = []
    async with app_client(marks_app(database_url, redis_url, calls), db_session) as client:
        assert (await client.post("/kept/a")).status_code == 204
        assert (await client.post("/refused/b")).status_code == 409
        # A route whose session is never committed: the write is gone, as in production.
        assert (await client.post("/forgotten/c")).status_code == 204
        assert (await client.post("/kept/d")).status_code == 204
    assert await _names(db_session) == ["a", "d"]
    assert calls == ["a", "d"]  # after-commit work ran for committed requests only


async def test_list_reads_run_in_autocommit(database_url: str, redis_url: str) -> None:
    """No BEGIN and ROLLBACK around a read session's statements (the app's own engine)."""
    async with app_client(marks_app(database_url, redis_url, [])) as client:
        assert (await client.get("/read")).json() == {"in_transaction": False}
