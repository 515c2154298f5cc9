"""The batching job as `bench_batch_10k` runs it: the worker's settings and `MailFlow`.

Run as a module it is that bench's peak-RSS child: a fresh process holding what a gateway worker
imports (`licence_gateway.jobs.worker`, as arq loads it) and nothing of the bench or the tests,
which runs the job once in a transaction it rolls back and prints its peak RSS in MB:
`python -m tests.bench.batch_job DATABASE_URL REDIS_URL`.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

import licence_gateway.jobs.worker  # noqa: F401  # everything a worker process has loaded
from licence_gateway.jobs.batching import create_batch
from licence_gateway.jobs.context import MailFlow
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.db import create_engine, create_sessionmaker
from service_kit.queue import create_redis
from tests.bench.kit import BenchRefused, peak_rss_mb

CREATED_AT = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
FIRST_RUN = 5000


def settings(database_url: str, redis_url: str) -> LicenceGatewaySettings:
    return LicenceGatewaySettings(
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        smtp_host="127.0.0.1",
        smtp_security="none",
        smtp_auth="none",
        smtp_from_address="gateway@bench.test",
        smtp_to_address="chief@bench.test",
        first_run_number=FIRST_RUN,
    )


def mail_flow(database_url: str, redis_url: str) -> MailFlow:
    """What the worker gives the job: settings, engine, Redis; the clock fixed for the file."""
    engine = create_engine(database_url, pool_size=1, application_name="bench")
    return MailFlow(
        settings=settings(database_url, redis_url),
        engine=engine,
        sessions=create_sessionmaker(engine),
        redis=create_redis(redis_url),
        exits=None,  # type: ignore[arg-type]  # create_batch opens no outside client
        clock=lambda: CREATED_AT,
    )


async def run_once(database_url: str, redis_url: str) -> None:
    flow = mail_flow(database_url, redis_url)
    async with flow.engine.connect() as connection:
        await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        if await create_batch(session, flow) is None:
            raise BenchRefused("the job found no payloads to send")
        await session.close()
        await connection.rollback()
    await flow.redis.aclose()
    await flow.engine.dispose()


if __name__ == "__main__":
    asyncio.run(run_once(sys.argv[1], sys.argv[2]))
    print(f"{peak_rss_mb():.1f}")
