"""A worker context for calling job functions directly, inside the test's rolled-back
transaction: each `sessionmaker()` session commits to a savepoint of the test's connection."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.jobs.runtime import CheckerJobs
from invoice_checker.settings import InvoiceCheckerSettings
from service_kit.queue import create_redis
from tests.support.infra import redis_url_for_tests


def job_ctx(
    db_session: AsyncSession, settings: InvoiceCheckerSettings, redis: ArqRedis | None = None
) -> dict[str, Any]:
    """With no `redis`, a client of the test Redis that connects only if a job uses it."""
    sessionmaker = async_sessionmaker(
        bind=db_session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    redis = redis or create_redis(redis_url_for_tests())
    return CheckerJobs(settings, sessionmaker, redis).into({})
