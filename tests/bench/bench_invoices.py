"""Invoice benchmarks over 10,000 invoices of one month and 1,000,000 hour entries.

bench month_refresh          seconds to refresh the stats of every invoice of the month
bench invoices_api_p99       p99 latency (ms) of an authenticated GET /api/v1/invoices?month=...
                             (first page of 50) at a constant 300 requests/s for 30 s, open loop,
                             against a real uvicorn server (2 worker processes, one per core);
                             latency counts from the intended send time, so a stalled server
                             cannot hide its queue

`python -m tests.bench.bench_invoices [--invoices N] [--entries-per-invoice M] [--seconds S]
[--workers W]`;
uses its own database (bench_invoices). Exits 0 even when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from invoice_checker.store.auth import ensure_user, issue_credential
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from service_kit.migrations import upgrade
from tests.conftest import recreate_database
from tests.support.infra import free_port, test_redis_url

DATABASE = "bench_invoices"
MONTH = date(2026, 10, 1)
CLIENTS = 500
PHASES = ("Development", "Design", "Non-billable work", "[Non Phase Specific]")
STATUSES = ("Approved", "Approved", "Approved", "Pending Approval", "Unsubmitted")


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def load(url: str, invoices: int, per_invoice: int) -> None:
    """Clients, projects, one invoice each for MONTH, and their entries, by COPY."""
    rng = random.Random(7)
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.copy_records_to_table(
            "clients",
            schema_name="invoice_checker",
            columns=["id", "name"],
            records=[(i + 1, f"Client {i:04d}") for i in range(CLIENTS)],
        )
        projects = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(invoices)]
        created = datetime(2017, 1, 1, tzinfo=UTC)
        await connection.copy_records_to_table(
            "projects",
            schema_name="invoice_checker",
            columns=["guid", "project_id", "name", "client_id", "project_state", "created_at"],
            records=[
                (guid, 10_000 + i, f"Project {i:05d}", i % CLIENTS + 1, "Confirmed", created)
                for i, guid in enumerate(projects)
            ],
        )
        invoice_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(invoices)]
        await connection.copy_records_to_table(
            "invoices",
            schema_name="invoice_checker",
            columns=["id", "date", "project_guid"],
            records=list(zip(invoice_ids, [MONTH] * invoices, projects, strict=True)),
        )
        now = datetime.now(UTC)
        columns = [
            "upstream_id", "date", "invoice_id", "last_updated_at", "user_id", "user_email",
            "user_name", "client", "project", "incurred_hours", "incurred_money", "bill_rate",
            "category", "notes", "entry_type", "discipline", "role", "leave_type", "phase_name",
            "billable", "approved", "status", "calculated_is_billable", "calculated_has_notes",
            "calculated_has_phase", "calculated_is_approved", "calculated_has_proper_price",
            "calculated_has_category", "calculated_is_overtime",
        ]  # fmt: skip

        def records(first: int, count: int):  # type: ignore[no-untyped-def]
            for n in range(first, first + count):
                invoice = n // per_invoice
                phase = PHASES[n % len(PHASES)]
                rate = (80.0, 100.0, 120.0, 180.0)[n % 4]
                hours = (n % 8) + 0.5
                billable = not phase.startswith("Non-billable")
                yield (
                    n + 1, MONTH + timedelta(days=n % 28), invoice_ids[invoice], now, n % 300,
                    f"user{n % 300}@example.com", f"User {n % 300}",
                    f"Client {invoice % CLIENTS:04d}",
                    f"Project {invoice:05d}", hours, hours * rate, rate,
                    "Development" if n % 11 else "No category", "work" if n % 13 else "",
                    "Confirmed", "[none]", "[none]", "[project]", phase, True, True,
                    STATUSES[n % len(STATUSES)], billable, bool(n % 13),
                    phase != "[Non Phase Specific]", True, 50 < rate < 170, bool(n % 11), False,
                )  # fmt: skip

        chunk = 200_000
        total = invoices * per_invoice
        for first in range(0, total, chunk):
            await connection.copy_records_to_table(
                "hour_entries",
                schema_name="invoice_checker",
                columns=columns,
                records=records(first, min(chunk, total - first)),
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def month_refresh_seconds(url: str, rounds: int = 3) -> float:
    engine = create_async_engine(url)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    timings = []
    try:
        for _ in range(rounds):
            async with sessionmaker() as session:
                started = time.perf_counter()
                refreshed = await refresh_invoice_stats(session, months=[MONTH])
                await session.commit()
                timings.append(time.perf_counter() - started)
            print(f"# refreshed {refreshed} invoices in {timings[-1]:.3f} s", file=sys.stderr)
    finally:
        await engine.dispose()
    return statistics.median(timings)


async def vacuum(url: str) -> None:
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute("VACUUM ANALYZE invoice_checker.invoices")
    finally:
        await connection.close()


async def make_token(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            user = await ensure_user(session, "bench@example.com", groups=["finance"])
            _, secret = await issue_credential(session, user, kind="api", name="bench")
            await session.commit()
            return secret
    finally:
        await engine.dispose()


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "INVOICE_CHECKER_DATABASE_URL": url,
        "INVOICE_CHECKER_REDIS_URL": test_redis_url(),
        "INVOICE_CHECKER_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "invoice_checker.main:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        "--workers", str(workers),
    ]  # fmt: skip
    # The server's own log would drown the bench lines; failed requests are counted instead.
    return subprocess.Popen(
        command,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(base: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


async def open_loop_p99(base: str, token: str, rate: int, seconds: float) -> tuple[float, int]:
    """Send at a fixed schedule whatever the answers; latency from the intended send time."""
    url = f"{base}/api/v1/invoices?month={MONTH:%Y-%m}&page=1&page_size=50"
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        for _ in range(50):  # warm connections and caches
            async with http.get(url, headers=headers) as response:
                await response.read()

        async def one(due: float) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                async with http.get(url, headers=headers) as response:
                    ok = response.status == 200 and b'"items"' in await response.read()
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            failures += not ok
            latencies.append(time.perf_counter() - due)  # a failure counts with its wait

        start = time.perf_counter() + 0.2
        count = int(rate * seconds)
        await asyncio.gather(*(one(start + i / rate) for i in range(count)))
    latencies.sort()
    return latencies[int(len(latencies) * 0.99) - 1] * 1000, failures


async def main(invoices: int, per_invoice: int, seconds: float, workers: int) -> None:
    url = await recreate_database(DATABASE)
    await asyncio.to_thread(upgrade, "invoice_checker", url)
    started = time.perf_counter()
    await load(url, invoices, per_invoice)
    print(
        f"# loaded {invoices} invoices, {invoices * per_invoice} entries "
        f"in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    print(f"bench month_refresh: {await month_refresh_seconds(url):.3f} s", flush=True)
    await vacuum(url)  # the refreshes rewrote every invoice row; serve from a steady state

    token = await make_token(url)
    port = free_port()
    server = start_server(url, port, workers)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, {})
        p99, failures = await open_loop_p99(base, token, rate=300, seconds=seconds)
        if failures:
            print(f"# {failures} requests failed", file=sys.stderr)
        print(f"bench invoices_api_p99: {p99:.1f} ms", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--entries-per-invoice", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.invoices,
            arguments.entries_per_invoice,
            arguments.seconds,
            arguments.workers,
        )
    )
