"""Races between the mail-flow jobs, found by the crash-injection harness (tests/reliability).

CHIEF can answer before the SMTP server's 250 reaches the batching job (or before the job
records it, e.g. after a restart re-sent a `pending` mail). The inbox job then moves the mail
to `reply_received`; the batching job, still holding the mail it loaded as `pending`, used to
write `reply_pending` over that move: the reply was stored and deleted from the box, the mail
waited for it forever and its licences never reached ICMS.
"""

from __future__ import annotations

import pytest

from licence_gateway.domain.mail_state import IllegalTransition, MailStatus
from licence_gateway.jobs import batching
from licence_gateway.jobs.batching import run_batching
from licence_gateway.jobs.context import MailFlow
from licence_gateway.store.mail import Mail, move_mail
from tests.licence_gateway.mail_flow_support import add_payloads, history, licences, mails
from tests.support.smtp_server import LocalSmtpServer


async def answer_during_send(flow: MailFlow, mail_id: int) -> None:
    """What the inbox job commits when CHIEF's reply is stored (jobs/inbox.py _apply_reply)."""
    async with flow.sessions() as session:
        mail = await session.get(Mail, mail_id, with_for_update=True)
        assert mail is not None
        await move_mail(session, mail, MailStatus.REPLY_PENDING, "reply arrived, so it was sent")
        await move_mail(session, mail, MailStatus.REPLY_RECEIVED, "licenceReply stored")
        await session.commit()


async def test_a_reply_stored_while_smtp_answers_is_not_overwritten_by_the_batching_job(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    deliver = batching.deliver_stored

    async def deliver_then_reply_arrives(flow: MailFlow, message: bytes) -> None:
        await deliver(flow, message)
        await answer_during_send(flow, 1)

    monkeypatch.setattr(batching, "deliver_stored", deliver_then_reply_arrives)

    await run_batching(mail_flow)

    [mail] = await mails(mail_flow.engine)
    assert mail.status == MailStatus.REPLY_RECEIVED  # was reply_pending: the reply lost
    assert await history(mail_flow.engine, mail.id) == [
        (None, "pending"),
        ("pending", "reply_pending"),
        ("reply_pending", "reply_received"),
    ]


async def test_a_move_checks_the_status_in_the_database_not_the_loaded_one(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    await run_batching(mail_flow)
    async with mail_flow.sessions() as stale:
        mail = await stale.get(Mail, 1)
        assert mail is not None and mail.status == MailStatus.REPLY_PENDING
        async with mail_flow.sessions() as other:
            fresh = await other.get(Mail, 1)
            assert fresh is not None
            await move_mail(other, fresh, MailStatus.REPLY_RECEIVED, "reply stored")
            await other.commit()

        # Loaded as reply_pending, now reply_received: a second reply_received is illegal.
        with pytest.raises(IllegalTransition):
            await move_mail(stale, mail, MailStatus.REPLY_RECEIVED, "the same reply again")
