"""Invoice benches over 10,000 invoices of one month and 1,000,000 hour entries.

month_refresh      refresh the stats of every invoice of the month (`refresh_invoice_stats`)
invoices_api_p99   p99 latency of an authenticated GET /api/v1/invoices?month=... (first page of
                   50) at a constant 300 requests/s, open loop, against `invoice-checker serve`
                   as it ships (one worker per core, each on its own SO_REUSEPORT socket);
                   latency counts from the intended send time, so a stalled server cannot hide
                   its queue. Median of five phases.

Any answer that is not a 200 with a page of invoices (a 401, a 500, a dropped connection, no
answer) refuses the bench: no p99 is printed over errors. A refresh that does not touch every
invoice refuses it too.

`python -m tests.bench.bench_invoices [--invoices N] [--entries-per-invoice M] [--seconds S]
[--rate R] [--workers W] [--database NAME] [--api-only]`; uses its own database
(bench_perf_invoices, dropped and loaded anew; `--api-only` reuses it).

The generator shares the 2-core machine with the server, so it is kept lean: one asyncio
protocol per keep-alive connection, a pre-built request, only the status line and Content-Length
parsed, uvloop. What earlier profiles found is in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import asyncpg
import uvloop
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from invoice_checker.store.auth import CredentialKind, ensure_user, issue_credential
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from service_kit.migrations import upgrade
from tests.bench.kit import MIN_RUNS, BenchRefused, Figure, record
from tests.support.database import recreate_database
from tests.support.infra import free_port, postgres_server_url, redis_url_for_db, with_database

MONTH = date(2026, 10, 1)
REDIS_DB = 12
MONTH_REFRESH = Figure(
    "month_refresh", "s", "<=", 2, "refresh the stats of 10,000 invoices over 1,000,000 entries"
)
API_P99 = Figure(
    "invoices_api_p99",
    "ms",
    "<=",
    30,
    "GET /api/v1/invoices (first page of 50) at 300 requests/s open loop, default `serve`: p99",
)
CLIENTS = 500
PHASES = ("Development", "Design", "Non-billable work", "[Non Phase Specific]")
STATUSES = ("Approved", "Approved", "Approved", "Pending Approval", "Unsubmitted")


# The hour-entry columns the bench loaders COPY, in the order their records give them.
HOUR_ENTRY_COLUMNS = [
    "upstream_id", "date", "invoice_id", "last_updated_at", "user_id", "user_email",
    "user_name", "client", "project", "incurred_hours", "incurred_money", "bill_rate",
    "category", "notes", "entry_type", "discipline", "role", "leave_type", "phase_name",
    "billable", "approved", "status", "calculated_is_billable", "calculated_has_notes",
    "calculated_has_phase", "calculated_is_approved", "calculated_has_proper_price",
    "calculated_has_category", "calculated_is_overtime",
]  # fmt: skip


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

        def records(first: int, count: int):
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
                columns=HOUR_ENTRY_COLUMNS,
                records=records(first, min(chunk, total - first)),
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def month_refresh_seconds(url: str, invoices: int, rounds: int = MIN_RUNS) -> list[float]:
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
            if refreshed != invoices:
                raise BenchRefused(f"refreshed {refreshed} invoices of {invoices}")
    finally:
        await engine.dispose()
    return timings


async def vacuum(url: str) -> None:
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute("VACUUM ANALYZE invoice_checker.invoices")
    finally:
        await connection.close()


async def make_token(url: str, kind: CredentialKind = "api") -> str:
    """A finance person's API token, or (`kind="session"`) a browser's session cookie."""
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            user = await ensure_user(session, "bench@example.com", groups=["finance"])
            _, secret = await issue_credential(session, user, kind=kind, name="bench")
            await session.commit()
            return secret
    finally:
        await engine.dispose()


def start_server(url: str, port: int, workers: int | None = None) -> subprocess.Popen[bytes]:
    """`invoice-checker serve` as a deployment runs it (production settings; `workers` None:
    its default, one worker per core, each on its own SO_REUSEPORT socket)."""
    env = {
        **os.environ,
        "INVOICE_CHECKER_DATABASE_URL": url,
        "INVOICE_CHECKER_REDIS_URL": redis_url_for_db(REDIS_DB),
        "INVOICE_CHECKER_LOG_LEVEL": "WARNING",
        "INVOICE_CHECKER_ENVIRONMENT": "production",
        "INVOICE_CHECKER_SESSION_SECRET": secrets.token_urlsafe(32),
        "INVOICE_CHECKER_COOKIE_SECURE": "true",
    }
    command = [
        str(Path(sys.executable).parent / "invoice-checker"),
        "serve", "--host", "127.0.0.1", "--port", str(port),
        *(["--workers", str(workers)] if workers is not None else []),
    ]  # fmt: skip
    # The server's own log would drown the bench lines; failed requests are counted instead.
    return subprocess.Popen(
        command,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(host: str, port: int) -> None:
    deadline = time.monotonic() + 30
    probe = f"GET /readyz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    while time.monotonic() < deadline:
        try:
            connection = await HttpConnection.open(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            if (await connection.exchange(probe)).status == 200:
                return
        finally:
            connection.close()
        await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


class Answer(NamedTuple):
    status: int
    body: bytes


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 client connection, one request at a time, nothing parsed beyond
    the status line and Content-Length: the generator shares the machine with the server, so
    every microsecond it spends is taken from the server."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.body_start = 0
        self.expected = -1  # bytes of head + body, once the head is in
        self.answer: asyncio.Future[Answer] | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        _, connection = await asyncio.get_running_loop().create_connection(cls, host, port)
        return connection

    @property
    def is_open(self) -> bool:
        return self.transport is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.expected < 0:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.buffer[:head_end]).lower()
            length = head.partition(b"\r\ncontent-length:")[2].partition(b"\r\n")[0]
            self.body_start = head_end + 4
            self.expected = self.body_start + int(length or 0)
        if len(self.buffer) < self.expected:
            return
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[self.body_start : self.expected])
        del self.buffer[: self.expected]
        self.expected = -1
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(Answer(status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("the server closed the connection"))

    async def exchange(self, request: bytes) -> Answer:
        if self.transport is None:
            raise ConnectionError("the connection is closed")
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answer

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class OpenLoop:
    """Requests sent on a fixed schedule, whatever the answers: each latency counts from the
    moment its request was due, so a stalled server cannot hide its queue (no coordinated
    omission). Idle connections are reused oldest first, spreading requests over the server's
    workers as many clients would; when all are busy a new one is opened (its connect counts)."""

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.idle: deque[HttpConnection] = deque()
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()  # what went wrong: a status, an exception

    async def one(self, due: float) -> None:
        loop = asyncio.get_running_loop()
        connection = self.idle.popleft() if self.idle else None
        failure = None
        try:
            if connection is None:
                connection = await HttpConnection.open(self.host, self.port)
            answer = await connection.exchange(self.request)
            if answer.status != 200 or not answer.body.startswith(b'{"items":'):
                failure = f"{answer.status} {answer.body[:120]!r}"
        except OSError as error:
            failure = repr(error)
        self.latencies.append(loop.time() - due)  # a failure counts with its wait
        if failure is not None:
            self.failures[failure] += 1
        if connection is not None and connection.is_open:
            self.idle.append(connection)

    async def run(self, rate: float, seconds: float, connections: int = 32) -> None:
        loop = asyncio.get_running_loop()
        while len(self.idle) < connections:
            self.idle.append(await HttpConnection.open(self.host, self.port))
        start = loop.time() + 0.05
        pending = []
        for n in range(int(rate * seconds)):
            due = start + n / rate
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            pending.append(loop.create_task(self.one(due)))
        _, late = await asyncio.wait(pending, timeout=30)
        for task in late:  # never answered: a failure that waited until the end
            task.cancel()
            self.failures["no answer in 30 s"] += 1
            self.latencies.append(30.0)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[math.ceil(len(ordered) * 0.99) - 1] * 1000


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far, from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (`serve`'s workers), from /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(process_cpu_seconds(process) for process in [pid, *map(int, children)])


async def server_backends(url: str) -> set[int]:
    """The PostgreSQL backends serving the app's connection pools (same machine)."""
    connection = await asyncpg.connect(_plain(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'invoice_checker'"
        )
    finally:
        await connection.close()
    return {row["pid"] for row in rows}


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Phase(NamedTuple):
    """One phase of the open-loop load: its p99 and the CPU each request cost, by process."""

    p99_ms: float
    server_us: float  # `serve` and its workers
    postgres_us: float  # the backends of the app's pools
    generator_us: float  # this process


async def invoices_api_phases(
    url: str, port: int, token: str, rate: int, seconds: float, pid: int
) -> list[Phase]:
    host = "127.0.0.1"
    request = (
        f"GET /api/v1/invoices?month={MONTH:%Y-%m}&page=1&page_size=50 HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    warm = OpenLoop(host, port, request)  # caches, pools and prepared statements; not counted
    await warm.run(rate, seconds=2)
    warm.close()
    phases = []
    for _ in range(MIN_RUNS):
        load = OpenLoop(host, port, request)
        backends = await server_backends(url)
        generator_before, server_before = _own_cpu_seconds(), cpu_seconds(pid)
        postgres_before = {backend: process_cpu_seconds(backend) for backend in backends}
        await load.run(rate, seconds)
        generator = _own_cpu_seconds() - generator_before
        server = cpu_seconds(pid) - server_before
        backends |= await server_backends(url)
        postgres = sum(
            process_cpu_seconds(backend) - postgres_before.get(backend, 0.0) for backend in backends
        )
        sent = len(load.latencies)
        load.close()
        if load.failures:
            raise BenchRefused(
                f"{load.failures.total()} of {sent} answers were errors, no p99 over them:"
                f" {dict(load.failures.most_common(5))}"
            )
        phase = Phase(
            load.p99_ms(), server / sent * 1e6, postgres / sent * 1e6, generator / sent * 1e6
        )
        print(
            f"# {sent} requests, p99 {phase.p99_ms:.1f} ms; CPU per request: server (`serve`)"
            f" {phase.server_us:.0f} us, PostgreSQL {phase.postgres_us:.0f} us,"
            f" generator {phase.generator_us:.0f} us",
            file=sys.stderr,
        )
        phases.append(phase)
    return phases


async def main(arguments: argparse.Namespace) -> None:
    if arguments.api_only:
        url = with_database(postgres_server_url(), arguments.database)
    else:
        url = await recreate_database(arguments.database)
        await asyncio.to_thread(upgrade, "invoice_checker", url)
        started = time.perf_counter()
        await load(url, arguments.invoices, arguments.entries_per_invoice)
        print(
            f"# loaded {arguments.invoices} invoices, "
            f"{arguments.invoices * arguments.entries_per_invoice} entries "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        record(MONTH_REFRESH, await month_refresh_seconds(url, arguments.invoices))
        await vacuum(url)  # the refreshes rewrote every invoice row; serve from a steady state

    token = await make_token(url)
    port = free_port()
    server = start_server(url, port, arguments.workers)
    try:
        await wait_ready("127.0.0.1", port)
        phases = await invoices_api_phases(
            url, port, token, arguments.rate, arguments.seconds, server.pid
        )
        cpu = {
            f"{part}_cpu_us_per_request": round(
                statistics.median(getattr(p, f"{part}_us") for p in phases)
            )
            for part in ("server", "postgres", "generator")
        }
        record(
            API_P99,
            [phase.p99_ms for phase in phases],
            detail={"rate": arguments.rate, "seconds": arguments.seconds, **cpu},
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--entries-per-invoice", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="of each of the 5 phases")
    parser.add_argument("--rate", type=int, default=300, help="requests per second")
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (default: `serve`'s own)"
    )
    parser.add_argument("--database", default="bench_perf_invoices", help="dropped and loaded anew")
    parser.add_argument(
        "--api-only", action="store_true", help="reuse the data of an earlier run; API only"
    )
    uvloop.run(main(parser.parse_args()))  # the generator's loop: the same as the server's
