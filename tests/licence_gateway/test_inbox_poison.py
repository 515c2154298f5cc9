"""Mailbox cases the reliability harnesses (tests/reliability) found.

- A reply whose attachment holds a NUL character (mail faults): PostgreSQL cannot store NUL in a
  text column, so storing it raised on every pass; the pass stopped there, nothing was deleted
  and every message after it waited forever. It is now unreadable like any other broken file.
- Two passes storing the same message at once (crash injection, a retried job beside the next
  one): the second's insert hit the unique Message-ID and the whole pass failed. It now counts
  the message as already stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import select

from devtools.simulators.licence_gateway.hmrc import HmrcConfig, HmrcSimulator
from licence_gateway.domain.email_message import EmailParseError, parse_hmrc_email
from licence_gateway.jobs.context import MailFlow
from licence_gateway.jobs.inbox import run_inbox
from licence_gateway.store.mail import ReceivedEmail
from tests.licence_gateway.mail_flow_support import CHIEF_ADDRESS

MAILBOX, PASSWORD = "mailbox@lg.test", "poison-password"


def reply_with(attachment: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = CHIEF_ADDRESS
    message["To"] = MAILBOX
    message["Subject"] = "CHIEF_licenceReply_1_202601011200"
    message["Message-ID"] = "<poison.1@hmrc.test>"
    message.add_attachment(
        attachment, maintype="application", subtype="octet-stream", filename="reply"
    )
    return message.as_bytes()


def test_an_attachment_with_a_nul_character_is_unreadable() -> None:
    with pytest.raises(EmailParseError, match="NUL"):
        parse_hmrc_email(reply_with(b"1\\fileHeader\\CHIEF\x00\\SPIRE"))


def use_box(mail_flow: MailFlow, box: HmrcSimulator) -> None:
    mail_flow.reconfigure(
        mail_flow.settings.model_copy(
            update={
                "pop3_host": "127.0.0.1",
                "pop3_port": box.pop3.port,
                "pop3_security": "none",
                "pop3_auth": "password",
                "pop3_username": MAILBOX,
                "pop3_password": SecretStr(PASSWORD),
            }
        )
    )


@pytest_asyncio.fixture
async def hmrc_box() -> AsyncIterator[HmrcSimulator]:
    simulator = HmrcSimulator(
        HmrcConfig(smtp_username="", mailbox_user=MAILBOX, mailbox_password=PASSWORD)
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_a_nul_reply_is_stored_flagged_and_does_not_block_the_mailbox(
    mail_flow: MailFlow, hmrc_box: HmrcSimulator
) -> None:
    use_box(mail_flow, hmrc_box)
    raw = reply_with(b"\x00\x01 not a reply")
    hmrc_box.mailbox.add(raw)

    report = await run_inbox(mail_flow)  # raised DBAPIError (NUL in a text column) before

    assert (report.stored, report.flagged, report.left) == (0, 1, 0)
    async with mail_flow.sessions() as session:
        [row] = await session.scalars(select(ReceivedEmail))
    assert (row.flag, row.attachment_text) == ("unreadable", None)
    assert row.raw.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert hmrc_box.mailbox.visible(0) == []  # deleted once stored


async def test_a_message_another_pass_stores_meanwhile_counts_as_already_stored(
    mail_flow: MailFlow, hmrc_box: HmrcSimulator
) -> None:
    use_box(mail_flow, hmrc_box)
    raw = reply_with(b"1\\fileHeader\\CHIEF\\SPIRE\\licenceReply\\202601011200\\1")
    hmrc_box.mailbox.add(raw)
    async with mail_flow.sessions() as other_pass:  # has inserted the row, not yet committed
        other_pass.add(
            ReceivedEmail(
                message_id="<poison.1@hmrc.test>",
                uidl="other",
                sender=CHIEF_ADDRESS,
                subject="CHIEF_licenceReply_1_202601011200",
                kind="licence_reply",
                raw=raw,
            )
        )
        await other_pass.flush()
        this_pass = asyncio.create_task(run_inbox(mail_flow))
        await asyncio.sleep(0.5)  # its insert now waits on the unique Message-ID
        await other_pass.commit()

    report = await this_pass  # raised IntegrityError before

    assert (report.stored, report.duplicates) == (0, 1)
    async with mail_flow.sessions() as session:
        assert len(list(await session.scalars(select(ReceivedEmail)))) == 1
    assert hmrc_box.mailbox.visible(0) == []
