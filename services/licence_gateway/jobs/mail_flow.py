"""The mail-flow jobs on the arq schedule, and the worker hooks that open and close their clients.

Every job is safe to run twice (arq may): batching holds an advisory lock and re-sends a
`pending` mail rather than building another; the mailbox pass skips what it already stored;
callbacks are locked while in flight and marked delivered in the same commit that moves the mail.
Each job also runs once at worker start, which resumes whatever a dead worker left half-done
(a mail committed but not sent, a reply stored but not deleted, a callback not yet delivered).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from arq.cron import CronJob, cron
from arq.typing import WorkerCoroutine

from licence_gateway.jobs.batching import send_licence_data
from licence_gateway.jobs.callbacks import send_to_icms
from licence_gateway.jobs.context import open_mail_flow
from licence_gateway.jobs.inbox import process_mailbox
from licence_gateway.settings import LicenceGatewaySettings, NotConfiguredError

logger = logging.getLogger(__name__)


def tolerating_missing_settings(job: Callable[[dict[str, Any]], Awaitable[str]]) -> WorkerCoroutine:
    """A job whose SMTP, POP3 or ICMS settings are still empty says so and ends quietly: the rest
    of the worker keeps running, and the next slot tries again."""

    @functools.wraps(job)
    async def run(ctx: dict[Any, Any], *_args: Any, **_kwargs: Any) -> str:
        # arq names a cron job by its function only; the id and try say which run this is.
        logger.info(
            "mail-flow job started",
            extra={"job": job.__name__, "job_id": ctx.get("job_id"), "job_try": ctx.get("job_try")},
        )
        try:
            return await job(ctx)
        except NotConfiguredError as exc:
            logger.warning(
                "job skipped: not configured", extra={"job": job.__name__, "why": str(exc)}
            )
            return f"not configured: {exc}"
        finally:
            logger.info("mail-flow job ended", extra={"job_id": ctx.get("job_id")})

    return run


def every(minutes: int) -> set[int]:
    """The minutes of the hour a job runs at: 0, n, 2n, ... (n=10 -> 0, 10, ..., 50)."""
    return set(range(0, 60, minutes))


# arq holds a started job's in-progress key for the longest job timeout + 10 s, with no renewal,
# and cancels a job at its timeout. A worker killed mid-job leaves the key behind: another
# worker runs the job again (its next try) once the key expires, so these timeouts bound that
# wait: 30 + 10 = 40 s (40 s timeouts, so 50 s, proved too tight: when both replicas were killed
# at once, their restart on a loaded machine pushed a retry to 70 s). A pass that needs longer is
# cancelled and the next one carries on (every job is resumable).
MAIL_FLOW_JOB_TIMEOUT_SECONDS = 30


def mail_flow_cron_jobs(settings: LicenceGatewaySettings) -> list[CronJob]:
    return [
        cron(
            tolerating_missing_settings(send_licence_data),
            minute=every(settings.batch_every_minutes),
            run_at_startup=True,
            max_tries=5,
            timeout=MAIL_FLOW_JOB_TIMEOUT_SECONDS,
        ),
        cron(
            tolerating_missing_settings(process_mailbox),
            minute=every(settings.inbox_every_minutes),
            second=30,  # out of step with batching, whose lock it does not need
            run_at_startup=True,
            max_tries=4,
            timeout=MAIL_FLOW_JOB_TIMEOUT_SECONDS,
        ),
        cron(
            tolerating_missing_settings(send_to_icms),
            minute=every(settings.callbacks_every_minutes),
            second=45,
            run_at_startup=True,
            max_tries=5,
            timeout=MAIL_FLOW_JOB_TIMEOUT_SECONDS,
        ),
    ]


def mail_flow_hooks(settings: LicenceGatewaySettings) -> tuple[Any, Any]:
    """arq on_startup / on_shutdown: open the MailFlow into ctx["mail_flow"], then close it."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        exits = AsyncExitStack()
        ctx["mail_flow"] = await exits.enter_async_context(open_mail_flow(settings))
        ctx["mail_flow_exits"] = exits
        logger.info("mail flow ready; batching and callbacks resume now")

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        exits: AsyncExitStack | None = ctx.pop("mail_flow_exits", None)
        if exits is not None:
            await exits.aclose()

    return on_startup, on_shutdown
