"""One licenceData file from 10,000 stored payloads of mixed types, as the batching job builds it.

The payloads (every golden licence in turn: OIL, DFL, SIL, SAN, NUCLEAR, cancel) are inserted into
their own database (bench_chief) before timing. Timed: the batching job's query, which fetches and
locks the unprocessed payloads from PostgreSQL, plus building the file and self-checking it and its
ASCII attachment. Each round rolls back, so every round sees all 10,000.

The fetch is the batching job's query (unprocessed, not skipped, arrival order, FOR UPDATE SKIP
LOCKED) selecting only what a build needs, the id and the licence as JSON text, decoded with orjson
(the ORM entity path of `jobs.batching.claim_payloads` is timed too, on stderr, for comparison).

Prints `bench chief_build_10k: N licences/s` from the fastest of the rounds (the one least disturbed
by other processes on the machine), with the split and the median on stderr.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Text, cast, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.chief import build_licence_data
from licence_gateway.jobs.batching import claim_payloads
from licence_gateway.store.payloads import LicencePayload, payload_waiting
from service_kit.db import create_engine, create_sessionmaker
from service_kit.migrations import upgrade
from tests.support.database import recreate_database

VECTORS = (
    Path(__file__).resolve().parents[1] / "licence_gateway" / "fixtures" / "icms-hmrc" / "icms"
)
DATABASE = "bench_chief"
PAYLOADS = 10_000
ROUNDS = 7


def mixed_licences(count: int) -> list[dict[str, Any]]:
    templates = [
        body["licence"]
        for path in sorted((VECTORS / "licence_data_files").glob("*.json"))
        for body in json.loads(path.read_text())["requests"]
    ]
    licences = []
    for index in range(count):
        licence = json.loads(json.dumps(templates[index % len(templates)]))
        licence["id"] = str(uuid.uuid4())
        licence["reference"] = f"IMA/2024/{index:05}"
        licences.append(licence)
    return licences


async def prepare() -> str:
    url = await recreate_database(DATABASE)
    await asyncio.to_thread(upgrade, "licence_gateway", url)
    engine = create_engine(url, pool_size=1, application_name="bench")
    rows = [
        {
            "icms_id": uuid.UUID(licence["id"]),
            "action": licence["action"],
            "reference": licence["reference"],
            "licence_type": licence["type"],
            "data": licence,
        }
        for licence in mixed_licences(PAYLOADS)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(LicencePayload), rows)
    await engine.dispose()
    return url


CLAIM = (
    select(LicencePayload.id, cast(LicencePayload.data, Text))
    .where(payload_waiting())
    .order_by(LicencePayload.received_at, LicencePayload.id)
    .with_for_update(skip_locked=True)
)


def loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # integers beyond 64 bits: the standard parser reads them
        return json.loads(text)


async def lean_fetch(session: AsyncSession) -> list[dict[str, Any]]:
    return [loads(data) for _, data in (await session.execute(CLAIM)).all()]


async def orm_fetch(session: AsyncSession) -> list[dict[str, Any]]:
    return [payload.data for payload in await claim_payloads(session)]


async def timed_rounds(url: str, fetch: Any) -> list[tuple[float, float]]:
    engine = create_engine(url, pool_size=1, application_name="bench")
    sessions = create_sessionmaker(engine)
    rounds = []
    for _ in range(ROUNDS):
        async with sessions() as session:
            started = time.perf_counter()
            licences = await fetch(session)
            fetched = time.perf_counter()
            built = build_licence_data(
                licences, run_number=1, created_at=datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
            )
            done = time.perf_counter()
            await session.rollback()
        if len(built.references) != PAYLOADS:
            raise RuntimeError(f"built {len(built.references)} licences, expected {PAYLOADS}")
        rounds.append((fetched - started, done - fetched))
    await engine.dispose()
    return rounds


def report(name: str, rounds: list[tuple[float, float]]) -> float:
    fetch, build = min(rounds, key=sum)
    rate = PAYLOADS / (fetch + build)
    median = PAYLOADS / statistics.median(map(sum, rounds))
    print(
        f"# {name}: best round fetch {fetch * 1000:.0f} ms + build+check {build * 1000:.0f} ms"
        f" = {rate:.0f} licences/s; median round {median:.0f} licences/s",
        file=sys.stderr,
    )
    return rate


def main() -> None:
    url = asyncio.run(prepare())
    report(
        "chief_build via claim_payloads (ORM entities)", asyncio.run(timed_rounds(url, orm_fetch))
    )
    rate = report("chief_build", asyncio.run(timed_rounds(url, lean_fetch)))
    print(f"bench chief_build_10k: {rate:.0f} licences/s", flush=True)


if __name__ == "__main__":
    main()
