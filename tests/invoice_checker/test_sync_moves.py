"""Entries that move between days, and the first-sync fast path meeting a concurrent writer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.domain import tenkfeet_mapping as mapping
from invoice_checker.jobs.sync import sync_hours
from invoice_checker.store import directory_sync as directory
from invoice_checker.store import hour_sync
from invoice_checker.store.hours import HourEntry
from tests.invoice_checker.sync_support import (
    clean_sessionmaker,
    end_to_end_vector,
    in_process_client,
    vector_world,
)

VECTOR = end_to_end_vector()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> Any:
    async with clean_sessionmaker(engine) as maker:
        yield maker


async def test_an_entry_moved_to_a_day_never_synced_is_moved_not_doubled(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = vector_world(VECTOR)
    async with in_process_client(world) as client:
        await sync_hours(sessionmaker, client, date(2018, 2, 5), date(2018, 2, 5))
        moved = dict(world.entries[date(2018, 2, 5)][0], date="2018-02-20")
        world.change_day(date(2018, 2, 5), "delete", {"ids": [moved["id"]]})
        world.change_day(date(2018, 2, 20), "add", {"entries": [moved]})
        # 2018-02-20 was never synced: its rows are new except the moved one.
        result = await sync_hours(sessionmaker, client, date(2018, 2, 20), date(2018, 2, 20))
        assert (result.added, result.updated) == (0, 1)
        again = await sync_hours(sessionmaker, client, date(2018, 2, 5), date(2018, 2, 5))
        assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    async with sessionmaker() as session:
        days = {e.upstream_id: e.date for e in await session.scalars(select(HourEntry))}
    assert days[moved["id"]] == date(2018, 2, 20)
    assert sorted(days) == [1, 4, 5, 6]


async def test_the_fast_path_gives_way_when_a_row_appeared_meanwhile(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = vector_world(VECTOR)
    async with in_process_client(world) as client:
        await sync_hours(sessionmaker, client, date(2018, 2, 6), date(2018, 2, 6))
    entries = world.entries[date(2018, 2, 6)]
    async with sessionmaker() as session, session.begin():
        context = mapping.MappingContext(
            users=await directory.local_users(session),
            project_guids=await directory.project_guids(session),
            leave_project_guid=await directory.ensure_leave_project(session),
            assignables=mapping.assignables(world.projects),
            leave_types=await directory.leave_type_names(session),
        )
        rows = [mapping.hour_row(entry, context) for entry in entries]
        # As if another sync had written these rows after our check: the COPY is refused...
        assert not await hour_sync._copy_new_entries(session, rows, datetime.now(UTC))
        # ...and the transaction goes on with the upsert path, unharmed.
        result = await hour_sync.write_days(
            session, days=[date(2018, 2, 6)], rows=rows, digests={}, now=datetime.now(UTC)
        )
    assert (result.added, result.updated, result.deleted) == (0, 0, 0)
