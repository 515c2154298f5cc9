"""The batching job on 10,000 realistic waiting payloads: `create_batch`, the job's own function.

`send_licence_data` up to its commit, SMTP excluded: claim the payloads (FOR UPDATE SKIP LOCKED),
take the run number, build and self-check the licenceData file, render and store the e-mail, the
batch and its 10,000 batch rows, mark the payloads processed. The payloads (the mix of
tests/bench/realistic.py) sit in a fresh database; each run happens inside a transaction that is
rolled back afterwards (the job's commit releases a savepoint) and the table vacuumed, so every
run finds all 10,000 waiting, as ingest left them. Each run's stored file must equal the pure
codec's file for the same licences, and its batch must carry all 10,000.

Figures: `batch_10k` (seconds, median) and `batch_10k_peak_rss` (MB: the peak resident memory of
a fresh process that imports what a gateway worker imports and runs the job once, median of five
such processes: `tests/bench/batch_job.py`).
`python -m tests.bench.bench_batch_10k --profile` prints a cProfile of one run instead.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from licence_gateway.domain.chief import build_licence_data
from licence_gateway.jobs.batching import create_batch
from licence_gateway.store.mail import BatchPayload, LicenceDataBatch
from licence_gateway.store.payloads import LicencePayload, payload_waiting
from service_kit.db import create_engine
from service_kit.migrations import upgrade
from tests.bench.batch_job import CREATED_AT, FIRST_RUN, mail_flow
from tests.bench.kit import MIN_RUNS, BenchRefused, Figure, record
from tests.bench.realistic import realistic_licences
from tests.support.database import recreate_database
from tests.support.infra import redis_url_for_db

DATABASE = "bench_perf_batch"
REDIS_DB = 11
PAYLOADS = 10_000
BATCH = Figure(
    "batch_10k",
    "s",
    "<=",
    0.35,
    "batching job (create_batch) on 10,000 realistic waiting payloads, up to its commit",
)
PEAK_RSS = Figure(
    "batch_10k_peak_rss", "MB", "<=", 150, "peak RSS of a process running that job once"
)


async def prepare() -> tuple[str, str]:
    """A fresh database holding the waiting payloads; the file the codec makes of them."""
    url = await recreate_database(DATABASE)
    await asyncio.to_thread(upgrade, "licence_gateway", url)
    licences = realistic_licences(PAYLOADS)
    rows = [
        {
            "icms_id": licence["id"],
            "action": licence["action"],
            "reference": licence["reference"],
            "licence_type": licence["type"],
            "data": licence,
        }
        for licence in licences
    ]
    engine = create_engine(url, pool_size=1, application_name="bench")
    async with engine.begin() as connection:
        await connection.execute(insert(LicencePayload), rows)
    await vacuum(engine)  # as autovacuum leaves a table some time after ingest
    await engine.dispose()
    expected = build_licence_data(licences, run_number=FIRST_RUN, created_at=CREATED_AT)
    return url, expected.text


async def timed_runs(url: str, expected: str, runs: int, profile: bool = False) -> list[float]:
    flow = mail_flow(url, redis_url_for_db(REDIS_DB))
    engine = flow.engine
    samples = []
    try:
        for _ in range(runs):
            async with engine.connect() as connection:
                await connection.begin()
                session = AsyncSession(
                    bind=connection,
                    join_transaction_mode="create_savepoint",
                    expire_on_commit=False,
                )
                profiler = cProfile.Profile() if profile else None
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                mail = await create_batch(session, flow)
                if profiler:
                    profiler.disable()
                samples.append(time.perf_counter() - started)
                await check(session, mail, expected)
                await session.close()
                await connection.rollback()
            # The rolled-back versions would pile up run after run: each run starts from the
            # table as ingest left it. Vacuumed once the job's connection is back in the pool,
            # so the next run takes that connection again, as a worker's job would.
            await vacuum(engine)
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    finally:
        await flow.redis.aclose()
        await engine.dispose()
    return samples


async def vacuum(engine: AsyncEngine) -> None:
    """Every table, the queue and the batch rows included: a rolled-back run leaves 10,000 dead
    batch rows in their indexes and 10,000 queue rows marked by an aborted delete."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("VACUUM ANALYZE")


async def check(session: AsyncSession, mail: Any, expected: str) -> None:
    if mail is None:
        raise BenchRefused("the job found no payloads to send")
    batch = await session.scalar(
        select(LicenceDataBatch).where(LicenceDataBatch.mail_id == mail.id)
    )
    if batch is None or batch.file_text != expected:
        raise BenchRefused("the stored file differs from the codec's file for the same licences")
    rows = await session.scalar(
        select(func.count()).select_from(BatchPayload).where(BatchPayload.batch_id == batch.id)
    )
    unsent = await session.scalar(
        select(func.count()).select_from(LicencePayload).where(payload_waiting())
    )
    if rows != PAYLOADS or unsent != 0:
        raise BenchRefused(f"the batch carries {rows} payloads and {unsent} remain unsent")


def peak_rss_of_one_run(url: str) -> float:
    """Start a fresh worker-like process that runs the job once and reports its peak RSS."""
    command = [sys.executable, "-m", "tests.bench.batch_job", url, redis_url_for_db(REDIS_DB)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(output.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    url, expected = asyncio.run(prepare())
    if argv[:1] == ["--profile"]:
        asyncio.run(timed_runs(url, expected, 2, profile=True))
        return
    samples = asyncio.run(timed_runs(url, expected, MIN_RUNS + 2))
    record(BATCH, samples, detail={"payloads": PAYLOADS, "file_chars": len(expected)})
    record(PEAK_RSS, [peak_rss_of_one_run(url) for _ in range(MIN_RUNS)])


if __name__ == "__main__":
    main(sys.argv[1:])
