"""A re-sync whose days all changed upstream: the merge path of `HourSync.run`.

After one full sync (not timed) of 40 days of 2,500 entries, every run first changes every day
at the 10000ft stand-in (`POST /_admin/days/<day>`: 25 entries get new hours, one entry is
deleted), then times the re-sync of the whole range. Each changed day goes through the staging
COPY and the merge (upsert by upstream id, delete what the day no longer has, new checksum),
not through the first-sync COPY. The run must report every day changed, every update and every
deletion, and leave exactly the entries the stand-in serves, or the bench refuses.
Own database: bench_perf_resync.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from typing import Any

import httpx

from invoice_checker.domain import tenkfeet_mapping as mapping
from invoice_checker.domain.date_ranges import days_in
from invoice_checker.jobs.sync import HourSync
from tests.bench.bench_sync import (
    CONCURRENCY,
    ENTRIES_PER_DAY,
    START,
    fetch_all_days,
    stand_in_and_database,
    stored_entries,
)
from tests.bench.kit import MIN_RUNS, BenchRefused, Figure, record

DATABASE = "bench_perf_resync"
DAYS = 40
UPDATES_PER_DAY = 25
FIGURE = Figure(
    "resync_changed_days",
    "s",
    "<=",
    6,
    "re-sync of 40 changed days (100,000 entries; 25 updated, 1 deleted a day): merge path",
)


async def change_every_day(
    admin: httpx.AsyncClient, pages: dict[Any, list[dict[str, Any]]], run: int
) -> None:
    """New hours for the first 25 counted entries of each day, and one entry deleted."""
    changes = []
    for day, entries in pages.items():
        counted = [entry for entry in entries if mapping.counts_as_hours(entry)]
        for entry in counted[:UPDATES_PER_DAY]:
            hours = 1.25 + 0.25 * run  # differs from every earlier run's and the generator's
            changes.append(
                (day, {"action": "update", "id": entry["id"], "changes": {"hours": hours}})
            )
        changes.append((day, {"action": "delete", "ids": [counted[-1]["id"]]}))
    gate = asyncio.Semaphore(8)

    async def post(day: Any, body: dict[str, Any]) -> None:
        async with gate:
            response = await admin.post(f"/_admin/days/{day.isoformat()}", json=body)
            response.raise_for_status()

    await asyncio.gather(*(post(day, body) for day, body in changes))


async def main() -> None:
    end = START + timedelta(days=DAYS - 1)
    samples = []
    async with (
        stand_in_and_database(DATABASE, DAYS) as (sessions, client, base),
        httpx.AsyncClient(base_url=base) as admin,
    ):
        await HourSync(sessions, client, concurrency=CONCURRENCY).run(
            START, end, automatic_split=True
        )
        for run in range(MIN_RUNS):
            pages = await fetch_all_days(client, end)
            await change_every_day(admin, pages, run)
            served = await fetch_all_days(client, end)  # warm the stand-in's cache
            expected = sum(
                mapping.counts_as_hours(entry) for day in served.values() for entry in day
            )
            started = time.perf_counter()
            summary = await HourSync(sessions, client, concurrency=CONCURRENCY).run(
                START, end, automatic_split=True
            )
            samples.append(time.perf_counter() - started)
            print(f"# re-sync: {summary.line('hours')}", file=sys.stderr)
            if (summary.unchanged, summary.deleted, summary.updated) != (
                0,
                DAYS,
                DAYS * UPDATES_PER_DAY,
            ):
                raise BenchRefused(f"the re-sync did not merge every change: {summary}")
            if (stored := await stored_entries(sessions)) != expected:
                raise BenchRefused(f"{stored} entries stored, the stand-in serves {expected}")
    days = len(list(days_in(START, end)))
    record(FIGURE, samples, detail={"days": days, "entries_per_day": ENTRIES_PER_DAY})


if __name__ == "__main__":
    asyncio.run(main())
