"""Hour sync benchmarks against the 10000ft stand-in (its own process) and PostgreSQL.

bench sync_1m_entries         seconds for a full sync of 1,000,000 entries, stats refresh included
bench sync_vs_limit_ratio     that time / (fetch + decode the same pages + COPY the same rows into
                              hour_entries with its indexes), measured in the same run
bench resync_nochange_ratio   a re-sync of the same range with nothing changed / the full sync

`python -m tests.bench.bench_sync [--entries N]`; uses its own database (bench_sync).

Targets: sync_1m_entries <= 60 s, sync_vs_limit_ratio <= 2, resync_nochange_ratio <= 0.3.
Last figures (2 cores, other engineers' suites running, load 2-5): 38.1 s / 1.21 / 0.07 and
47.7 s / 1.72 / 0.06; before the fix below 74.6 s / 1.55 / 0.08 (and 108.8 s at load 8-12).

Profile (py-spy, 250,000 entries): the sync process was the bottleneck, and 43% of its
HourSync time was `orjson.loads` of the pages, of which about 70% was the cyclic garbage
collector rescanning the batch's live entry dicts (10.7 us an entry kept alive vs 2.9 us with the
collector paused; 4.0 us when each page is dropped at once). The hour sync now pauses the
collector over its synchronous decode and map stretches (`jobs/sync.py: _collector_paused`).
What is left: decode ~3 us and mapping (`hour_row`) ~5 us an entry in the sync process, the
stand-in's HTTP serving, and PostgreSQL's COPY with the table's indexes, mostly overlapped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
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
from tests.support.database import recreate_database
from tests.support.infra import free_port

DATABASE = "bench_sync"
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
    """Fetch + decode every page, then COPY the same rows into the emptied hour_entries."""
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
    now = time.time()
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
    del now
    async with sessionmaker() as session:
        connection = await session.connection()
        raw: Any = (await connection.get_raw_connection()).driver_connection
        copy_started = time.perf_counter()
        await raw.copy_records_to_table(
            "hour_entries", schema_name="invoice_checker", records=records, columns=columns
        )
        await session.commit()
        copied = time.perf_counter() - copy_started
    print(f"# limit: fetch+decode {fetched:.1f} s, COPY {copied:.1f} s ({len(records)} rows)")
    return fetched + copied


async def main(entries: int) -> None:
    days = max(entries // ENTRIES_PER_DAY, 1)
    end = START + timedelta(days=days - 1)
    url = await recreate_database(DATABASE)
    await asyncio.to_thread(upgrade, "invoice_checker", url)
    engine = create_async_engine(url, pool_size=4)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    port = free_port()
    simulator = start_simulator(port, days)
    try:
        async with TenkfeetClient(f"http://127.0.0.1:{port}", "", timeout=120) as client:
            await sync_users(sessionmaker, client)
            await sync_projects(sessionmaker, client)
            await fetch_all_days(client, end)  # warm the stand-in's cache: every pass pays alike

            started = time.perf_counter()
            summary = await HourSync(sessionmaker, client, concurrency=CONCURRENCY).run(
                START, end, automatic_split=True
            )
            full = time.perf_counter() - started
            print(f"# full sync: {summary.line('hours')} in {full:.1f} s", file=sys.stderr)

            started = time.perf_counter()
            again = await HourSync(sessionmaker, client, concurrency=CONCURRENCY).run(
                START, end, automatic_split=True
            )
            resync = time.perf_counter() - started
            print(f"# re-sync: {again.line('hours')} in {resync:.1f} s", file=sys.stderr)

            limit = await limit_seconds(sessionmaker, client, end)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        await engine.dispose()
    scale = 1_000_000 / (days * ENTRIES_PER_DAY)
    print(f"bench sync_1m_entries: {full * scale:.1f} s")
    print(f"bench sync_vs_limit_ratio: {full / limit:.2f} ratio")
    print(f"bench resync_nochange_ratio: {resync / full:.2f} ratio")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--entries", type=int, default=int(os.environ.get("BENCH_SYNC_ENTRIES", 1_000_000))
    )
    asyncio.run(main(parser.parse_args().entries))
