"""Web app benchmarks over 10,000 invoices of one month and about 1,000,000 hour entries.

bench web_invoice_list_p95   p95 latency (ms) of a signed-in GET /invoices?month=... (the
                             month's first page of 100, footer totals, filters), target 100 ms
bench web_invoice_page_p95   p95 latency (ms) of a signed-in GET /invoices/{id} for an invoice
                             of 5,000 entries (figures, incorrect entries, phases, the first
                             page of entries, history), target 150 ms

Both are measured against a real uvicorn server (one worker), one request at a time over a
keep-alive connection with the browser's session cookie, after a warm-up: the figure is the
median of the p95s of MIN_RUNS runs (tests.bench.kit). Each answer must be the page asked for
(status 200 and its heading), else the bench refuses to print a figure.

`python -m tests.bench web` or `python -m tests.bench.bench_web [--requests N] [--database NAME]
[--reuse]`; uses its own database (bench_web, dropped and loaded anew by bench_invoices' loader,
plus 4,900 entries on one invoice; `--reuse` keeps an earlier run's data).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from service_kit.migrations import upgrade
from tests.bench.bench_invoices import (
    HOUR_ENTRY_COLUMNS,
    MONTH,
    cpu_seconds,
    load,
    make_token,
    month_refresh_seconds,
    start_server,
    vacuum,
    wait_ready,
)
from tests.bench.kit import MIN_RUNS, BenchRefused, Figure, record
from tests.support.database import recreate_database
from tests.support.infra import free_port, postgres_server_url, with_database

LIST_P95 = Figure(
    "web_invoice_list_p95",
    "ms",
    "<=",
    100,
    "signed-in GET /invoices?month= (first page of 100, totals, filters): p95",
)
PAGE_P95 = Figure(
    "web_invoice_page_p95",
    "ms",
    "<=",
    150,
    "signed-in GET /invoices/{id} of an invoice of 5,000 entries: p95",
)
INVOICES = 10_000
PER_INVOICE = 100
BIG_INVOICE_ENTRIES = 5_000


def big_entry(
    upstream_id: int, n: int, invoice_id: object, project: str, client: str, now: datetime
) -> tuple[object, ...]:
    """An approved entry of the big invoice: 40 people, 6 phases, some flagged."""
    hours = (n % 8) + 0.5
    rate = 100.0 if n % 50 else 20.0
    return (
        upstream_id, MONTH + timedelta(days=n % 28), invoice_id, now, n % 40,
        f"user{n % 40}@example.com", f"User {n % 40}", client, project, hours, hours * rate,
        rate, "Development" if n % 17 else "[none]", "work" if n % 19 else "", "Confirmed",
        "[none]", "[none]", "[project]", f"Phase {n % 6}", True, True, "Approved",
        True, bool(n % 19), True, True, bool(n % 50), bool(n % 17), False,
    )  # fmt: skip


async def grow_one_invoice(url: str) -> uuid.UUID:
    """Make the first project's invoice count BIG_INVOICE_ENTRIES entries; return its id."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        invoice_id, project, client = await connection.fetchrow(
            "SELECT i.id, p.name, c.name FROM invoice_checker.invoices i"
            " JOIN invoice_checker.projects p ON p.guid = i.project_guid"
            " JOIN invoice_checker.clients c ON c.id = p.client_id"
            " ORDER BY p.project_id LIMIT 1"
        )
        have = await connection.fetchval(
            "SELECT count(*) FROM invoice_checker.hour_entries WHERE invoice_id = $1"
            " AND status <> 'Unsubmitted' AND incurred_hours > 0",  # the entries it counts
            invoice_id,
        )
        now = datetime.now(UTC)
        first_id = await connection.fetchval(
            "SELECT coalesce(max(upstream_id), 0) + 1 FROM invoice_checker.hour_entries"
        )
        records = [
            big_entry(first_id + n, n, invoice_id, project, client, now)
            for n in range(BIG_INVOICE_ENTRIES - have)
        ]
        await connection.copy_records_to_table(
            "hour_entries",
            schema_name="invoice_checker",
            columns=HOUR_ENTRY_COLUMNS,
            records=records,
        )
        return uuid.UUID(str(invoice_id))
    finally:
        await connection.close()


def p95_ms(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[math.ceil(len(ordered) * 0.95) - 1] * 1000


async def p95s(
    client: httpx.AsyncClient, path: str, expect: str, requests: int, server_pid: int
) -> list[float]:
    """The p95 (ms) of each of MIN_RUNS phases of `requests` sequential GETs, after 10 not
    counted; any wrong answer refuses the bench (no figure over errors)."""
    for _ in range(10):
        await _get(client, path, expect)
    figures, cpu_started = [], cpu_seconds(server_pid)
    for _ in range(MIN_RUNS):
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            size = await _get(client, path, expect)
            timings.append(time.perf_counter() - started)
        figures.append(p95_ms(timings))
    cpu_ms = (cpu_seconds(server_pid) - cpu_started) / (MIN_RUNS * requests) * 1000
    print(
        f"# {path}: server CPU {cpu_ms:.1f} ms per request (PostgreSQL's not counted), "
        f"{size} bytes",
        file=sys.stderr,
    )
    return figures


async def _get(client: httpx.AsyncClient, path: str, expect: str) -> int:
    answer = await client.get(path)
    if answer.status_code != 200 or expect not in answer.text:
        raise BenchRefused(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return len(answer.content)


async def main(arguments: argparse.Namespace) -> None:
    if arguments.reuse:
        url = with_database(postgres_server_url(), arguments.database)
    else:
        url = await recreate_database(arguments.database)
        await asyncio.to_thread(upgrade, "invoice_checker", url)
        started = time.perf_counter()
        await load(url, INVOICES, PER_INVOICE)
        await grow_one_invoice(url)
        await month_refresh_seconds(url, INVOICES, rounds=1)
        await vacuum(url)
        print(f"# loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    big = await grow_one_invoice(url)  # idempotent: tops the invoice up to its size
    cookie = await make_token(url, kind="session")
    port = free_port()
    server = start_server(url, port, workers=1)
    try:
        await wait_ready("127.0.0.1", port)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", cookies={"ic_session": cookie}, timeout=30
        ) as client:
            listed = f"/invoices?month={MONTH:%Y-%m}"
            samples = await p95s(client, listed, "Invoices of", arguments.requests, server.pid)
            record(LIST_P95, samples, detail={"requests_per_run": arguments.requests})
            page, heading = f"/invoices/{big}", f"Entries ({BIG_INVOICE_ENTRIES})"
            samples = await p95s(client, page, heading, arguments.requests, server.pid)
            record(PAGE_P95, samples, detail={"requests_per_run": arguments.requests})
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=40, help=f"timed requests per run ({MIN_RUNS} runs a page)"
    )
    parser.add_argument("--database", default="bench_web", help="dropped and loaded anew")
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's data")
    asyncio.run(main(parser.parse_args()))
