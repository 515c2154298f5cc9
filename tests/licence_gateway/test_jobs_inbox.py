"""The mailbox job against a real Dovecot POP3 server (STARTTLS, USER/PASS) and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.adapters.pop3 import Pop3TransientError
from licence_gateway.domain.mail_state import MailStatus
from licence_gateway.jobs.context import MailFlow
from licence_gateway.jobs.inbox import run_inbox
from licence_gateway.store.mail import ReceivedEmail
from tests.licence_gateway.mail_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAILBOX_USER,
    TENANT_ID,
    IdentityService,
)
from tests.licence_gateway.mail_flow_support import (
    EMAILS,
    HMRC,
    add_answered_batch,
    email,
    history,
    mails,
    set_status,
)
from tests.support.dovecot import DovecotServer
from tests.support.faulty_proxy import FaultyProxy

REPLY_29236 = "CHIEF_licenceReply_29236_202209231140.eml"
# The run the fixture reply answers: its one transaction, 88514.
REFERENCES = {"88514": "00000000-0000-4000-8000-000000000001"}


async def received(mail_flow: MailFlow) -> list[ReceivedEmail]:
    async with AsyncSession(mail_flow.engine) as session:
        return list(await session.scalars(select(ReceivedEmail).order_by(ReceivedEmail.id)))


async def test_a_reply_for_the_mail_in_flight_is_stored_then_deleted(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    mail_id = await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    raw = email(REPLY_29236)
    mailbox.deliver(MAILBOX_USER, raw)

    report = await run_inbox(inbox_flow)

    assert (report.stored, report.flagged, report.left) == (1, 0, 0)
    assert mailbox.stored(MAILBOX_USER) == 0
    [row] = await received(inbox_flow)
    assert row.raw.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert (row.sender, row.kind, row.run_number, row.mail_id, row.flag) == (
        HMRC,
        "licence_reply",
        29236,
        mail_id,
        None,
    )
    [mail] = await mails(inbox_flow.engine)
    assert mail.status == "reply_received"
    expected = (EMAILS / "CHIEF_licenceReply_29236_202209231140_attachment").read_text()
    assert mail.response_data == expected == row.attachment_text
    assert mail.response_subject == "CHIEF_licenceReply_29236_202209231140"
    assert (await history(inbox_flow.engine, mail_id))[-1] == ("reply_pending", "reply_received")


async def test_a_reply_for_a_mail_still_pending_proves_it_was_sent(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    """A worker died after SMTP accepted the mail but before recording it; then CHIEF replied."""
    mail_id = await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    await set_status(inbox_flow.engine, mail_id, MailStatus.PENDING)
    mailbox.deliver(MAILBOX_USER, email(REPLY_29236))

    await run_inbox(inbox_flow)

    assert (await history(inbox_flow.engine, mail_id))[-2:] == [
        ("pending", "reply_pending"),
        ("reply_pending", "reply_received"),
    ]


async def test_a_message_already_stored_is_deleted_without_a_second_row(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    mailbox.deliver(MAILBOX_USER, email(REPLY_29236))
    await run_inbox(inbox_flow)
    mailbox.deliver(MAILBOX_USER, email(REPLY_29236))  # HMRC (or a lost DELE) sends it again

    report = await run_inbox(inbox_flow)

    assert (report.stored, report.duplicates) == (0, 1)
    assert mailbox.stored(MAILBOX_USER) == 0
    assert len(await received(inbox_flow)) == 1


async def test_mail_that_is_not_from_hmrc_or_not_a_reply_stays_and_is_logged_once(
    inbox_flow: MailFlow, mailbox: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox.deliver(MAILBOX_USER, email(REPLY_29236, **{HMRC: "someone@elsewhere.test"}))
    mailbox.deliver(
        MAILBOX_USER, email("CHIEF_licenceReply_29238_202209251140-unknown-subject.eml")
    )

    with caplog.at_level(logging.WARNING, logger="licence_gateway.jobs.inbox"):
        first = await run_inbox(inbox_flow)
        second = await run_inbox(inbox_flow)

    assert (first.left, second.left) == (2, 2)
    assert mailbox.stored(MAILBOX_USER) == 2
    assert await received(inbox_flow) == []
    left = [r.getMessage() for r in caplog.records if "left in the mailbox" in r.getMessage()]
    assert sorted(left) == [
        "e-mail left in the mailbox: not a reply",
        "e-mail left in the mailbox: not from HMRC",
    ]


async def test_a_reply_for_another_run_is_stored_flagged_and_not_applied(
    inbox_flow: MailFlow, mailbox: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    mail_id = await add_answered_batch(inbox_flow.engine, 100, REFERENCES, reply=None)
    mailbox.deliver(MAILBOX_USER, email(REPLY_29236))

    with caplog.at_level(logging.ERROR, logger="licence_gateway.jobs.inbox"):
        report = await run_inbox(inbox_flow)

    assert (report.stored, report.flagged) == (0, 1)
    [row] = await received(inbox_flow)
    assert (row.flag, row.mail_id) == ("run_number_mismatch", None)
    assert "awaits run 100" in (row.flag_detail or "")
    assert {m.id: m.status for m in await mails(inbox_flow.engine)}[mail_id] == "reply_pending"
    assert mailbox.stored(MAILBOX_USER) == 0
    assert any("not applied" in r.getMessage() for r in caplog.records)


async def test_a_reply_with_two_attachments_is_kept_flagged_and_blocks_nothing(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    """One odd message used to abort the whole pass, every pass (section 14.6)."""
    await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    mailbox.deliver(
        MAILBOX_USER, email("CHIEF_licenceReply_29237_202209241020-two-attachments.eml")
    )
    mailbox.deliver(MAILBOX_USER, email(REPLY_29236))

    report = await run_inbox(inbox_flow)

    assert (report.stored, report.flagged) == (1, 1)
    flags = {row.run_number: row.flag for row in await received(inbox_flow)}
    assert flags == {29237: "unreadable", 29236: None}


async def test_usage_data_becomes_a_usage_mail(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    mailbox.deliver(MAILBOX_USER, email("ILBDOTI_live_CHIEF_usageData_7132_202209280300.eml"))

    await run_inbox(inbox_flow)

    [mail] = await mails(inbox_flow.engine)
    assert (mail.extract_type, mail.status) == ("usage_data", "reply_received")
    expected = (EMAILS / "ILBDOTI_live_CHIEF_usageData_7132_202209280300_attachment").read_text()
    assert mail.response_data == expected
    [row] = await received(inbox_flow)
    assert (row.kind, row.run_number, row.mail_id) == ("usage_data", 7132, mail.id)


async def test_the_connection_dropping_mid_retr_loses_and_deletes_nothing(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    mailbox.deliver(MAILBOX_USER, email("ILBDOTI_live_CHIEF_usageData_7132_202209280300.eml"))
    mailbox.deliver(MAILBOX_USER, email(REPLY_29236))
    direct = inbox_flow.settings
    with FaultyProxy(mailbox.pop3_port, cut_after_command=b"RETR", cut_after_bytes=300) as proxy:
        inbox_flow.reconfigure(
            direct.model_copy(update={"pop3_port": proxy.port, "pop3_security": "none"})
        )
        with pytest.raises(Pop3TransientError):
            await run_inbox(inbox_flow)
        assert proxy.cuts == 1

    assert mailbox.stored(MAILBOX_USER) == 2
    assert await received(inbox_flow) == []

    inbox_flow.reconfigure(direct)
    report = await run_inbox(inbox_flow)
    assert report.stored == 2
    assert mailbox.stored(MAILBOX_USER) == 0


async def test_the_mailbox_is_read_over_pop3s_with_an_msal_xoauth2_token(
    inbox_flow: MailFlow, mailbox: DovecotServer, identity_service: IdentityService
) -> None:
    """As in production: implicit TLS, AUTH XOAUTH2 with a client-credentials token from msal."""
    inbox_flow.reconfigure(
        inbox_flow.settings.model_copy(
            update={
                "pop3_port": mailbox.pop3s_port,
                "pop3_security": "tls",
                "pop3_auth": "xoauth2",
                "pop3_password": SecretStr(""),
                "azure_tenant_id": TENANT_ID,
                "azure_client_id": CLIENT_ID,
                "azure_client_secret": SecretStr(CLIENT_SECRET),
                "azure_authority_host": identity_service.authority_host,
            }
        )
    )
    mailbox.deliver(MAILBOX_USER, email("ILBDOTI_live_CHIEF_usageData_7132_202209280300.eml"))

    report = await run_inbox(inbox_flow)

    assert report.stored == 1
    assert mailbox.stored(MAILBOX_USER) == 0
