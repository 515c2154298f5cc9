"""Hawk-signed POST /mail/update-licence/ from 8 concurrent clients against `licence-gateway serve`.

The server runs as docker-compose runs it: `serve` with its default worker count (no --workers),
on its own database (bench_perf_ingest, synchronous_commit on) and Redis db 12. Every request is
Hawk-checked, nonce-checked in Redis, validated and committed before its 201. Each client is a
plain asyncio HTTP/1.1 client on one keep-alive connection, signing each request with mohawk as
ICMS signs it, just before sending it (latency counts from the send). The clients run on uvloop, as
the server does: the two cores they share with it and PostgreSQL go less to their event loop, while
each request is still signed by mohawk. One extra request is checked the way ICMS checks the
answer (mohawk verifies Server-Authorization).

Any answer other than a signed 201 refuses the bench. Figures, each the median of the timed
phases: `ingest_hawk` (requests/s), `ingest_hawk_p99` (ms), `ingest_hawk_server_cpu` (CPU of the
server processes per request, which other load on the machine changes least).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import mohawk
import uvloop
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.migrations import upgrade
from tests.bench.kit import MIN_RUNS, BenchRefused, Figure, record
from tests.support.database import recreate_database
from tests.support.infra import free_port, redis_url_for_db

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = (
    ROOT / "tests/licence_gateway/fixtures/icms-hmrc/icms/licence_data_files/fa_sil_insert.json"
)
DATABASE = "bench_perf_ingest"
REDIS_DB = "12"
HAWK_KEY = "bench-hawk-key"
CLIENTS = 8
REQUESTS_PER_CLIENT = int(os.environ.get("BENCH_INGEST_REQUESTS", "1000"))
WARMUP_PER_CLIENT = 100
PHASES = MIN_RUNS
PATH = "/mail/update-licence/"
CREDENTIALS = {"id": "icms-api", "key": HAWK_KEY, "algorithm": "sha256"}
RATE = Figure(
    "ingest_hawk",
    "requests/s",
    ">=",
    1500,
    "Hawk ingest, 8 mohawk-signed keep-alive clients, durable commit, default `serve`",
)
P99 = Figure("ingest_hawk_p99", "ms", "<=", 15, "the same load: 99th percentile latency")
SERVER_CPU = Figure(
    "ingest_hawk_server_cpu", "ms/request", "<=", 0.5, "the same load: server CPU per request"
)


def bodies(count: int) -> list[bytes]:
    """JSON bodies as ICMS sends them, each a distinct licence id."""
    template = json.loads(GOLDEN.read_text())["requests"][0]
    made = []
    for _ in range(count):
        template["licence"]["id"] = str(uuid.uuid4())
        made.append(json.dumps(template, separators=(",", ":")).encode())
    return made


def signed(port: int, body: bytes) -> bytes:
    """One raw HTTP/1.1 request, signed with mohawk as ICMS signs it, when it is sent (a
    signature is good for 60 s: one made before a long phase would expire)."""
    sender = mohawk.Sender(
        CREDENTIALS,
        f"http://127.0.0.1:{port}{PATH}",
        "POST",
        content=body,
        content_type="application/json",
    )
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Hawk-Authentication: {sender.request_header}\r\n\r\n"
    )
    return head.encode() + body


async def client(port: int, requests: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in requests:
            request = signed(port, body)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != b"201" or b"server-authorization" not in head.lower():
                raise BenchRefused(f"an answer was not a signed 201: {head[:200]!r}")
    finally:
        writer.close()


def check_answers_as_icms_does(port: int) -> None:
    """One request the way ICMS sends it, its Server-Authorization checked by mohawk."""
    body = json.loads(GOLDEN.read_text())["requests"][0]
    body["licence"]["id"] = str(uuid.uuid4())
    content = json.dumps(body, separators=(",", ":")).encode()
    url = f"http://127.0.0.1:{port}{PATH}"
    # The answer repeats the request's nonce: nothing to look up, the callback only stops a warning.
    sender = mohawk.Sender(
        CREDENTIALS,
        url,
        "POST",
        content=content,
        content_type="application/json",
        seen_nonce=lambda *_: False,
    )
    headers = {"Content-Type": "application/json", "Hawk-Authentication": sender.request_header}
    response = httpx.post(url, content=content, headers=headers)
    if response.status_code != 201:
        raise BenchRefused(f"unexpected answer {response.status_code}: {response.text}")
    sender.accept_response(
        response.headers["Server-Authorization"],
        content=response.content,
        content_type=response.headers["Content-Type"],
    )


async def load(port: int, per_client: list[list[bytes]]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(client(port, requests, latencies) for requests in per_client))
    return time.perf_counter() - started, latencies


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (the uvicorn workers), Linux only."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextmanager
def server(database_url: str, redis_url: str, port: int) -> Iterator[int]:
    env = os.environ | {
        "LICENCE_GATEWAY_DATABASE_URL": database_url,
        "LICENCE_GATEWAY_REDIS_URL": redis_url,
        "LICENCE_GATEWAY_ICMS_HAWK_KEY": HAWK_KEY,
        "LICENCE_GATEWAY_LOG_LEVEL": "WARNING",
    }
    # No --workers: the default is what a deployment (docker-compose) gets.
    command = [str(Path(sys.executable).parent / "licence-gateway"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def prepare_database() -> str:
    url = await recreate_database(DATABASE)
    await asyncio.to_thread(upgrade, "licence_gateway", url)
    return url


async def stored_count(url: str) -> tuple[int, str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM licence_gateway.licence_payloads")
        )
        durability = await connection.scalar(text("SHOW synchronous_commit"))
    await engine.dispose()
    return int(count or 0), str(durability)


def main() -> None:
    database_url = asyncio.run(prepare_database())
    redis_url = redis_url_for_db(REDIS_DB)
    port = free_port()
    rates, p99s, cpus = [], [], []
    sent = 1
    with server(database_url, redis_url, port) as pid:
        check_answers_as_icms_does(port)
        warmup = bodies(CLIENTS * WARMUP_PER_CLIENT)
        uvloop.run(load(port, [warmup[i::CLIENTS] for i in range(CLIENTS)]))
        sent += len(warmup)
        for _ in range(PHASES):
            timed = bodies(CLIENTS * REQUESTS_PER_CLIENT)
            cpu_before = cpu_seconds(pid)
            elapsed, latencies = uvloop.run(load(port, [timed[i::CLIENTS] for i in range(CLIENTS)]))
            cpus.append((cpu_seconds(pid) - cpu_before) / len(timed) * 1000)
            rates.append(len(timed) / elapsed)
            p99s.append(statistics.quantiles(latencies, n=100)[98] * 1000)
            sent += len(timed)
    count, durability = asyncio.run(stored_count(database_url))
    if count != sent or durability != "on":
        raise BenchRefused(f"stored {count} of {sent} payloads, synchronous_commit={durability}")
    detail = {"clients": CLIENTS, "requests_per_phase": CLIENTS * REQUESTS_PER_CLIENT}
    record(RATE, rates, detail=detail)
    record(P99, p99s, detail=detail)
    # The throughput ceiling is about (cores - PostgreSQL - generator) / this.
    record(SERVER_CPU, cpus, detail=detail)


if __name__ == "__main__":
    main()
