"""The arq worker of the licence gateway: its functions and cron schedule."""

from __future__ import annotations

from typing import Any

from licence_gateway.jobs.mail_flow import (
    MAIL_FLOW_JOB_TIMEOUT_SECONDS,
    mail_flow_cron_jobs,
    mail_flow_hooks,
)
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.queue import worker_settings

QUEUE_NAME = "licence_gateway:queue"
# A queued job nobody started within this long after its time is dropped: the next cron slot
# does the same work. It must outlive a killed job's in-progress key (timeout + 10 s), or the
# job's retry would find it expired.
JOB_EXPIRES_EXTRA_MS = 300_000


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: enqueue it to see that a worker is consuming the queue."""
    return "pong"


def build_worker_settings(settings: LicenceGatewaySettings) -> dict[str, Any]:
    on_startup, on_shutdown = mail_flow_hooks(settings)
    return worker_settings(
        queue_name=QUEUE_NAME,
        redis_url=settings.redis_url,
        functions=[ping],
        cron_jobs=mail_flow_cron_jobs(settings),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        # Also bounds the in-progress key of `ping` and anything without its own timeout: the
        # longest timeout of all functions sets how long a killed job waits for its retry.
        job_timeout=MAIL_FLOW_JOB_TIMEOUT_SECONDS,
        expires_extra_ms=JOB_EXPIRES_EXTRA_MS,
    )
