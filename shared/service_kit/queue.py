"""arq helpers: Redis clients, a worker-settings factory, and the after-commit hook."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)

WorkerHook = Callable[[dict[str, Any]], Awaitable[None]]


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 30
    settings.conn_retry_delay = 1
    return settings


def create_redis(url: str) -> ArqRedis:
    """A Redis client that can also enqueue arq jobs. Connects lazily: never fails at start."""
    client: ArqRedis = ArqRedis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
    return client


def worker_settings(
    *,
    queue_name: str,
    redis_url: str,
    functions: Sequence[Any],
    cron_jobs: Sequence[Any] = (),
    on_startup: WorkerHook | None = None,
    on_shutdown: WorkerHook | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Settings for `arq.worker.run_worker`, with defaults suited to idempotent jobs."""
    settings: dict[str, Any] = {
        "queue_name": queue_name,
        "redis_settings": redis_settings(redis_url),
        "functions": list(functions),
        "cron_jobs": list(cron_jobs),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "health_check_interval": 30,
        "health_check_key": f"{queue_name}:health-check",
        "job_timeout": 300,
        "max_tries": 8,
        "keep_result": 60,
        "poll_delay": 0.25,
    }
    settings.update(overrides)
    return settings


@dataclass(frozen=True)
class JobRequest:
    """A job to enqueue once the transaction that justified it has committed."""

    function: str
    args: tuple[Any, ...] = ()
    job_id: str | None = None
    queue_name: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


async def enqueue(redis: ArqRedis, job: JobRequest) -> bool:
    """Enqueue, tolerating a Redis outage: the caller's sweeper re-enqueues from the database."""
    try:
        await redis.enqueue_job(
            job.function, *job.args, _job_id=job.job_id, _queue_name=job.queue_name, **job.kwargs
        )
    except (RedisError, OSError) as exc:
        logger.warning(
            "enqueue failed; left for the sweeper", extra={"job": job.function, "error": str(exc)}
        )
        return False
    return True


_AFTER_COMMIT = "service_kit.after_commit"

AfterCommit = JobRequest | Callable[[], Awaitable[None] | None]
"""A job to enqueue, or a call (dropping a cache, telling other processes) to make once
committed; a call may be a coroutine function."""


def after_commit(session: AsyncSession, *work: AfterCommit) -> None:
    """Enqueue these jobs or make these calls once `session` commits; drop them if it rolls back.

    A job's rows are visible to the worker by then; a crash before the enqueue leaves them to
    the sweeper (the database is the outbox)."""
    session.info.setdefault(_AFTER_COMMIT, []).extend(work)


async def commit(session: AsyncSession, redis: ArqRedis) -> None:
    """Commit, then run the after-commit work: the one place that work runs."""
    await session.commit()
    work: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for item in work:
        if isinstance(item, JobRequest):
            await enqueue(redis, item)
        elif inspect.isawaitable(outcome := item()):
            await outcome


async def rollback(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)
    await session.rollback()
