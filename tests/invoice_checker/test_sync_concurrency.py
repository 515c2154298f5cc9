"""Two overlapping hour syncs at once, as two tasks with their own connections and as two CLI
processes: both succeed and the result is the same as one sync."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from devtools.simulators.invoice_checker.tenkfeet import TenkfeetWorld
from invoice_checker.jobs.sync import sync_hours
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice
from tests.invoice_checker.sync_support import TOKEN, clean_sessionmaker, in_process_client, served

START = date(2018, 3, 1)


def generated_world() -> TenkfeetWorld:
    return TenkfeetWorld(
        seed=7,
        user_count=12,
        project_count=6,
        days=20,
        entries_per_day=40,
        start=START,
        token=TOKEN,
    )


def expected_state(world: TenkfeetWorld) -> dict[int, tuple[date, float]]:
    return {
        entry["id"]: (date.fromisoformat(entry["date"]), float(entry["hours"]))
        for day in world.generated_days()
        for entry in world.day_entries(day)
    }


async def stored_state(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[dict[int, tuple[date, float]], float]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(HourEntry.upstream_id, HourEntry.date, HourEntry.incurred_hours)
        )
        state = {upstream_id: (day, hours) for upstream_id, day, hours in rows}
        invoiced = await session.scalar(select(func.sum(Invoice.incurred_hours)))
    return state, float(invoiced or 0)


def counted_hours(world: TenkfeetWorld) -> float:
    return sum(
        float(entry["hours"])
        for day in world.generated_days()
        for entry in world.day_entries(day)
        if entry["approvals"]["data"]
    )


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> Any:
    async with clean_sessionmaker(engine) as maker:
        yield maker


async def test_two_overlapping_syncs_in_two_tasks(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = generated_world()
    async with in_process_client(world) as first, in_process_client(world) as second:
        results = await asyncio.gather(
            sync_hours(sessionmaker, first, START, date(2018, 3, 14), concurrency=3),
            sync_hours(sessionmaker, second, date(2018, 3, 5), date(2018, 3, 20), concurrency=3),
        )
    state, invoiced = await stored_state(sessionmaker)
    assert state == expected_state(world)
    # Each entry was added exactly once, by one of the two.
    assert sum(result.added for result in results) == len(state)
    assert invoiced == pytest.approx(counted_hours(world))


async def test_two_overlapping_cli_syncs_in_two_processes(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str, redis_url: str
) -> None:
    world = generated_world()
    with served(world) as url:
        env = os.environ | {
            "INVOICE_CHECKER_DATABASE_URL": database_url,
            "INVOICE_CHECKER_REDIS_URL": redis_url,
            "INVOICE_CHECKER_TENKFEET_API_URL": url,
            "INVOICE_CHECKER_TENKFEET_API_TOKEN": TOKEN,
        }
        command = [str(Path(sys.executable).parent / "invoice-checker"), "sync", "hours"]
        ranges = [("2018-03-01", "2018-03-14"), ("2018-03-05", "2018-03-20")]
        processes = [
            await asyncio.create_subprocess_exec(
                *command,
                "--start",
                start,
                "--end",
                end,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for start, end in ranges
        ]
        outputs = [await process.communicate() for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()
        lines = stdout.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hours: added ")
    state, invoiced = await stored_state(sessionmaker)
    assert state == expected_state(world)
    assert invoiced == pytest.approx(counted_hours(world))

    # Entries changed upstream, then a third sync over both ranges gives the new state.
    world.change_day(date(2018, 3, 6), "empty", {})
    world.change_day(
        date(2018, 3, 7), "delete", {"ids": [world.day_entries(date(2018, 3, 7))[0]["id"]]}
    )
    with served(world) as url:
        result = subprocess.run(
            [*command, "--start", "2018-03-01", "--end", "2018-03-20"],
            env=env | {"INVOICE_CHECKER_TENKFEET_API_URL": url},
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hours: added 0, updated 0, deleted 41, unchanged days 18\n"
    state, invoiced = await stored_state(sessionmaker)
    assert state == expected_state(world)
    assert invoiced == pytest.approx(counted_hours(world))
