"""Hour sync benches against the 10000ft stand-in (its own process) and PostgreSQL.

sync_1m_entries        a full sync (`HourSync.run`, stats refresh included) of 1,000,000 entries
                       into emptied hour tables
sync_vs_limit_ratio    that time / the limit: fetch + decode the same pages, map every entry to
                       its row (`tenkfeet_mapping.hour_row`, as the sync does) and COPY the rows
                       into hour_entries with its indexes, measured in the same run
resync_nochange_ratio  a re-sync of the same range with nothing changed / the full sync

Each is the median of five runs; a run empties the hour tables first. The sync must store every
entry the stand-in serves, or the bench refuses. `BENCH_SYNC_ENTRIES=N` syncs N entries instead
(the seconds are then scaled to 1,000,000). Own database: bench_perf_sync.
What earlier profiles found is in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from invoice_checker.adapters.tenkfeet import TenkfeetClient
from invoice_checker.domain import tenkfeet_mapping as mapping
from invoice_checker.domain.date_ranges import days_in
from invoice_checker.jobs.sync import HourSync, sync_projects, sync_users
from invoice_checker.store import directory_sync as directory
from service_kit.migrations import upgrade
from tests.bench.kit import MIN_RUNS, BenchRefused, Figure, record
from tests.support.database import recreate_database
from tests.support.infra import free_port

DATABASE = "bench_perf_sync"
START = date(2018, 1, 1)
ENTRIES_PER_DAY = 2500
CONCURRENCY = 6


def start_simulator(port: int, days: int) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).parent / "invoice-checker"),
        "simulate",
        "tenkfeet",
        "--port",
        str(port),
        "--users",
        "300",
        "--projects",
        "1000",
        "--days",
        str(days),
        "--entries-per-day",
        str(ENTRIES_PER_DAY),
        "--start",
        START.isoformat(),
    ]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_admin/stats", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("10000ft stand-in did not start")


async def fetch_all_days(client: TenkfeetClient, end: date) -> dict[date, list[dict]]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(day: date) -> tuple[date, list[dict]]:
        async with gate:
            return day, await client.time_entries(day, day)

    return dict(await asyncio.gather(*(one(day) for day in days_in(START, end))))


async def limit_seconds(
    sessionmaker: async_sessionmaker[AsyncSession], client: TenkfeetClient, end: date
) -> float:
    """Fetch + decode every page, map every entry, COPY the rows into the emptied hour_entries."""
    started = time.perf_counter()
    pages = await fetch_all_days(client, end)
    fetched = time.perf_counter() - started
    async with sessionmaker() as session:
        context = mapping.MappingContext(
            users=await directory.local_users(session),
            project_guids=await directory.project_guids(session),
            leave_project_guid=await directory.ensure_leave_project(session),
            assignables=mapping.assignables(await client.projects_with_phases()),
            leave_types=await directory.leave_type_names(session),
        )
        invoices: dict[str, int] = dict(
            (
                await session.execute(
                    text(
                        "SELECT date::text || project_guid::text, id FROM invoice_checker.invoices"
                    )
                )
            ).all()
        )
        await session.execute(text("TRUNCATE invoice_checker.hour_entries"))
        await session.commit()
    mapping_started = time.perf_counter()
    records = []
    for entries in pages.values():
        for entry in entries:
            if not mapping.counts_as_hours(entry):
                continue
            row = mapping.hour_row(entry, context)
            values = row._asdict()
            values["invoice_id"] = invoices[f"{row.invoice_month}{row.project_guid}"]
            del values["project_guid"], values["invoice_month"]
            values["last_updated_at"] = row.created_at
            records.append(tuple(values.values()))
    columns = list(values)
    mapped = time.perf_counter() - mapping_started
    async with sessionmaker() as session:
        connection = await session.connection()
        raw: Any = (await connection.get_raw_connection()).driver_connection
        copy_started = time.perf_counter()
        await raw.copy_records_to_table(
            "hour_entries", schema_name="invoice_checker", records=records, columns=columns
        )
        await session.commit()
        copied = time.perf_counter() - copy_started
    print(
        f"# limit: fetch+decode {fetched:.1f} s, map {mapped:.1f} s, COPY {copied:.1f} s"
        f" ({len(records)} rows)",
        file=sys.stderr,
    )
    return fetched + mapped + copied


SYNC_1M = Figure("sync_1m_entries", "s", "<=", 60, "full hour sync of 1,000,000 entries")
LIMIT_RATIO = Figure(
    "sync_vs_limit_ratio",
    "ratio",
    "<=",
    2,
    "full sync / (fetch + decode + map + COPY the same entries), same run",
)
NOCHANGE_RATIO = Figure(
    "resync_nochange_ratio", "ratio", "<=", 0.3, "re-sync with nothing changed / full sync"
)
HOUR_TABLES = "invoice_checker.hour_entries, invoice_checker.hour_entry_checksums"


async def empty_hour_tables(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        await session.execute(text(f"TRUNCATE {HOUR_TABLES}"))
        await session.commit()


async def stored_entries(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(text("SELECT count(*) FROM invoice_checker.hour_entries")) or 0
        )


async def full_sync(
    sessionmaker: async_sessionmaker[AsyncSession], client: TenkfeetClient, end: date
) -> float:
    started = time.perf_counter()
    summary = await HourSync(sessionmaker, client, concurrency=CONCURRENCY).run(
        START, end, automatic_split=True
    )
    elapsed = time.perf_counter() - started
    print(f"# sync: {summary.line('hours')} in {elapsed:.1f} s", file=sys.stderr)
    return elapsed


@asynccontextmanager
async def stand_in_and_database(
    database: str, days: int
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], TenkfeetClient, str]]:
    """A fresh database holding the stand-in's users and projects, the stand-in serving `days`
    days, and a client of it; the stand-in's base URL for its admin routes."""
    url = await recreate_database(database)
    await asyncio.to_thread(upgrade, "invoice_checker", url)
    engine = create_async_engine(url, pool_size=4)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    port = free_port()
    simulator = start_simulator(port, days)
    base = f"http://127.0.0.1:{port}"
    try:
        async with TenkfeetClient(base, "", timeout=120) as client:
            await sync_users(sessionmaker, client)
            await sync_projects(sessionmaker, client)
            yield sessionmaker, client, base
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        await engine.dispose()


async def main(entries: int) -> None:
    days = max(entries // ENTRIES_PER_DAY, 1)
    end = START + timedelta(days=days - 1)
    fulls, limits, resyncs = [], [], []
    async with stand_in_and_database(DATABASE, days) as (sessionmaker, client, _):
        pages = await fetch_all_days(client, end)  # warm the stand-in: every pass pays alike
        served = sum(map(mapping.counts_as_hours, (e for day in pages.values() for e in day)))
        del pages
        for _ in range(MIN_RUNS):
            await empty_hour_tables(sessionmaker)
            fulls.append(await full_sync(sessionmaker, client, end))
            if (stored := await stored_entries(sessionmaker)) != served:
                raise BenchRefused(f"the sync stored {stored} of {served} entries")
            resyncs.append(await full_sync(sessionmaker, client, end))
            limits.append(await limit_seconds(sessionmaker, client, end))
    scale = 1_000_000 / (days * ENTRIES_PER_DAY)
    detail = {"entries": days * ENTRIES_PER_DAY, "scaled_to_1m": scale != 1}
    record(SYNC_1M, [full * scale for full in fulls], detail=detail)
    record(LIMIT_RATIO, [full / limit for full, limit in zip(fulls, limits, strict=True)])
    record(NOCHANGE_RATIO, [again / full for full, again in zip(fulls, resyncs, strict=True)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--entries", type=int, default=int(os.environ.get("BENCH_SYNC_ENTRIES", 1_000_000))
    )
    asyncio.run(main(parser.parse_args().entries))
