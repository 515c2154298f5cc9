"""The real arq worker, as `licence-gateway worker` builds it, resuming what a dead worker left."""

from __future__ import annotations

import asyncio
import logging

import pytest
from arq.worker import Worker

from licence_gateway.jobs.batching import batching_session, create_batch
from licence_gateway.jobs.context import MailFlow
from licence_gateway.jobs.worker import build_worker_settings
from tests.licence_gateway.mail_flow_support import (
    IcmsStandIn,
    add_payloads,
    add_usage_mail,
    fixture_text,
    licences,
    mails,
    payloads,
)
from tests.support.smtp_server import LocalSmtpServer

# arq's own Worker.close calls a redis method deprecated since redis 5.0.1.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


async def run_worker_once(mail_flow: MailFlow) -> None:
    """Start the worker (its startup hook and startup jobs), let it drain the queue, stop it."""
    settings = build_worker_settings(mail_flow.settings)
    worker = Worker(**(settings | {"burst": True, "handle_signals": False, "poll_delay": 0.05}))
    try:
        await asyncio.wait_for(worker.main(), timeout=30)
    finally:
        await worker.close()


async def test_a_starting_worker_sends_a_mail_a_dead_worker_left_pending_and_tells_icms(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, icms_stand_in: IcmsStandIn
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    async with batching_session(mail_flow) as session:
        committed = await create_batch(session, mail_flow)  # ...and then the worker died
    assert committed is not None
    usage = await add_usage_mail(mail_flow.engine, fixture_text("usage_7132"))  # not yet told

    await run_worker_once(mail_flow)

    statuses = {mail.id: mail.status for mail in await mails(mail_flow.engine)}
    assert statuses[committed.id] == "reply_pending"
    assert len(chief_smtp.messages) == 1
    assert statuses[usage] == "reply_processed"
    assert [path for path, _body in icms_stand_in.received] == ["/chief/usage-data-callback"]


async def test_a_worker_without_smtp_settings_runs_and_says_what_is_missing(
    mail_flow: MailFlow, caplog: pytest.LogCaptureFixture
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    mail_flow.reconfigure(mail_flow.settings.model_copy(update={"smtp_host": ""}))

    with caplog.at_level(logging.WARNING, logger="licence_gateway.jobs.mail_flow"):
        await run_worker_once(mail_flow)

    skipped = {
        r.job: r.why  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "job skipped: not configured"
    }
    assert sorted(skipped) == ["process_mailbox", "send_licence_data"]  # no POP3 here either
    assert "LICENCE_GATEWAY_SMTP_HOST" in skipped["send_licence_data"]
    assert await mails(mail_flow.engine) == []
    assert [p.is_processed for p in await payloads(mail_flow.engine)] == [False]


def test_a_job_a_killed_worker_was_running_is_tried_again_within_a_minute(
    mail_flow: MailFlow,
) -> None:
    """arq keeps a started job's in-progress key for the longest timeout + 10 s (no renewal):
    until it expires no worker takes the job again. It was 310 s (the 300 s default timeout)."""
    worker = Worker(**(build_worker_settings(mail_flow.settings) | {"handle_signals": False}))
    assert worker.in_progress_timeout_s <= 40
    # A queued job must still exist when its retry becomes possible, or arq calls it expired.
    assert worker.expires_extra_ms > worker.in_progress_timeout_s * 1000
    assert {job.timeout_s for job in worker.cron_jobs} == {30}
