"""Helpers for the sync tests: committed sessions on a clean schema, and 10000ft stand-ins."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.adapters.tenkfeet import TenkfeetClient
from invoice_checker.simulators.tenkfeet import TenkfeetWorld, create_app, fixture_world
from tests.support.apps import served_over_http

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "sim-token"

# Tables the syncs write; truncated around tests that commit for real.
SYNC_TABLES = (
    "hour_entries",
    "hour_entry_checksums",
    "invoices",
    "project_admins",
    "phases",
    "projects",
    "clients",
    "tenkfeet_users",
    "leave_types",
    "public_holidays",
    "history",
    "events",
    "sync_runs",
)


def end_to_end_vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "sync_10000ft_end_to_end.json").read_text())
    return data


def vector_world(vector: dict[str, Any]) -> TenkfeetWorld:
    inputs = vector["inputs"]
    return fixture_world(
        {
            "users": inputs["users_endpoint"],
            "projects": inputs["projects_with_phases_endpoint"],
            "leave_types": inputs["leave_types_endpoint"],
            "time_entries": inputs["time_entries_endpoint"],
        },
        token=TOKEN,
    )


async def truncate_sync_tables(engine: AsyncEngine) -> None:
    names = ", ".join(f"invoice_checker.{table}" for table in SYNC_TABLES)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} CASCADE"))


@asynccontextmanager
async def clean_sessionmaker(
    engine: AsyncEngine,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A sessionmaker whose commits are real (syncs run several transactions, some at once)."""
    await truncate_sync_tables(engine)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await truncate_sync_tables(engine)


def in_process_client(world: TenkfeetWorld, **options: Any) -> TenkfeetClient:
    """A real client talking to the stand-in over ASGI (no sockets); retries do not sleep."""

    async def no_sleep(seconds: float) -> None:
        return None

    options.setdefault("sleep", no_sleep)
    return TenkfeetClient(
        "http://tenkfeet.test",
        TOKEN,
        transport=httpx.ASGITransport(app=create_app(world)),
        **options,
    )


@contextmanager
def served(world: TenkfeetWorld) -> Iterator[str]:
    """The stand-in over real HTTP on 127.0.0.1 and a free port, in a thread; yields its URL."""
    with served_over_http(create_app(world), "10000ft stand-in") as url:
        yield url
