"""Issue 18.2: only HMRC's own reply to exactly its run is applied; forgeries are kept flagged.

The mailbox is a real Dovecot; each forged message is put in it as an attacker would send it.
"""

from __future__ import annotations

import email.policy
import logging
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.utils import make_msgid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_gateway.domain.hmrc_sender import check_hmrc_sender
from licence_gateway.jobs.context import MailFlow
from licence_gateway.jobs.inbox import run_inbox
from licence_gateway.main import create_app
from tests.licence_gateway.mail_fixtures import MAILBOX_USER
from tests.licence_gateway.mail_flow_support import HMRC, add_answered_batch, mails
from tests.licence_gateway.test_jobs_inbox import received
from tests.support.apps import app_client
from tests.support.dovecot import DovecotServer

REPLY = "CHIEF_licenceReply_29236_202209231140.eml"
REFERENCES = {"88514": "00000000-0000-4000-8000-000000000001"}
GENUINE_FROM = f'From: "HMRC, CHIEF" <{HMRC}>'
TRUSTED = "mx.receiver.test"
DOMAIN = HMRC.rpartition("@")[2]


ATTACHMENT = (
    "1\\fileHeader\\CHIEF\\ILBDOTI\\licenceReply\\202209231140\\29236\n"
    "2\\accepted\\88514\n3\\fileTrailer\\1\\0\\0\n"
)


def reply(
    attachment: str = ATTACHMENT, *, from_header: str = GENUINE_FROM, top: tuple[str, ...] = ()
) -> bytes:
    """A licenceReply e-mail, headers written as given (an attacker writes whatever he likes)."""
    message = MIMEMultipart()
    message.attach(MIMEApplication(attachment.encode(), Name=REPLY.removesuffix(".eml")))
    parts: Any = message.get_payload()
    attachment_part = parts[0]
    attachment_part["Content-Disposition"] = f"attachment; filename={REPLY.removesuffix('.eml')}"
    body = message.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
    head = [
        *top,
        from_header,
        f"Message-ID: {make_msgid()}",
        f"Subject: {REPLY.removesuffix('.eml')}",
    ]
    return ("\r\n".join(head) + "\r\n").encode() + body


def headers(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\nSubject: x\r\n\r\nbody\r\n").encode()


@pytest.mark.parametrize(
    "from_header",
    [
        f"From: {HMRC} <attacker@evil.example>",  # parseaddr returns the display name
        f'From: "{HMRC}" <attacker@evil.example>',
        f"From: <{HMRC}>, attacker@evil.example",  # two mailboxes
        f"From: undisclosed: {HMRC};",  # a group
        f"From: {HMRC}@evil.example",
        "From: ",
        f"From: {HMRC} (comment) <<{HMRC}>>",
    ],
)
def test_a_from_that_only_contains_hmrcs_address_is_refused(from_header: str) -> None:
    verdict = check_hmrc_sender(headers(from_header), HMRC)
    assert verdict.problem is not None


def test_the_address_is_compared_case_insensitively_and_sender_must_match_too() -> None:
    assert check_hmrc_sender(headers(f"From: HMRC <{HMRC.upper()}>"), HMRC).problem is None
    forged_sender = headers(GENUINE_FROM, "Sender: attacker@evil.example")
    assert "Sender" in (check_hmrc_sender(forged_sender, HMRC).problem or "")
    two_froms = headers(GENUINE_FROM, GENUINE_FROM)
    assert check_hmrc_sender(two_froms, HMRC).problem is not None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["From", "Sender", "Authentication-Results", "X"]).flatmap(
            lambda name: st.tuples(st.just(name), st.text(max_size=60))
        ),
        max_size=4,
    )
)
def test_any_headers_give_a_verdict_and_only_hmrcs_one_mailbox_passes(
    fields: list[tuple[str, str]],
) -> None:
    lines = [f"{name}: {value}" for name, value in fields]
    raw = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\nbody"
    verdict = check_hmrc_sender(raw, HMRC, TRUSTED)
    if verdict.problem is None:
        assert verdict.address == HMRC
        assert sum(name == "From" for name, _ in fields) == 1


@pytest.mark.parametrize(
    ("results", "applied"),
    [
        ([f"{TRUSTED}; dmarc=pass header.from={DOMAIN}"], True),
        ([f"{TRUSTED}; spf=fail; dkim=pass (ok) header.d={DOMAIN.upper()}; dmarc=fail"], True),
        ([f"{TRUSTED}; dkim=pass header.d=evil.example; dmarc=fail header.from={DOMAIN}"], False),
        ([f"{TRUSTED}; dmarc=pass header.from=evil.example"], False),
        ([f"evil.example; dmarc=pass header.from={DOMAIN}"], False),  # anyone can write one
        ([], False),
        # the topmost header of the trusted id is our server's: a forged one below it is ignored
        (
            [f"{TRUSTED}; dmarc=fail", f"{TRUSTED}; dmarc=pass header.from={DOMAIN}"],
            False,
        ),
    ],
)
def test_authentication_results_are_trusted_only_from_the_configured_server(
    results: list[str], applied: bool
) -> None:
    raw = headers(*(f"Authentication-Results: {value}" for value in results), GENUINE_FROM)
    verdict = check_hmrc_sender(raw, HMRC, TRUSTED)
    assert (verdict.problem is None) is applied
    assert check_hmrc_sender(raw, HMRC).problem is None  # unset: the check is off


async def test_a_forged_from_is_stored_flagged_and_the_genuine_reply_still_applies(
    inbox_flow: MailFlow, mailbox: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    mail_id = await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    mailbox.deliver(MAILBOX_USER, reply(from_header=f"From: {HMRC} <attacker@evil.example>"))
    with caplog.at_level(logging.ERROR):
        report = await run_inbox(inbox_flow)
    assert (report.stored, report.flagged) == (0, 1)
    [row] = await received(inbox_flow)
    assert (row.flag, row.mail_id) == ("sender_not_verified", None)
    assert "attacker@evil.example" in row.sender
    [mail] = await mails(inbox_flow.engine)
    assert mail.status == "reply_pending"  # nothing applied
    assert any(r.levelno == logging.ERROR and "not applied" in r.message for r in caplog.records)

    mailbox.deliver(MAILBOX_USER, reply())
    report = await run_inbox(inbox_flow)
    assert (report.stored, report.flagged) == (1, 0)
    [mail] = await mails(inbox_flow.engine)
    assert (mail.id, mail.status) == (mail_id, "reply_received")


async def test_with_a_trusted_server_set_a_reply_without_its_verdict_is_not_applied(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    inbox_flow.settings = inbox_flow.settings.model_copy(
        update={"hmrc_trusted_authserv_id": TRUSTED}
    )
    await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    stamped = f"Authentication-Results: evil.example; dmarc=pass header.from={DOMAIN}"
    mailbox.deliver(MAILBOX_USER, reply(top=(stamped,)))
    await run_inbox(inbox_flow)
    [row] = await received(inbox_flow)
    assert row.flag == "sender_not_verified" and TRUSTED in (row.flag_detail or "")

    genuine = f"Authentication-Results: {TRUSTED}; dkim=pass header.d={DOMAIN}"
    mailbox.deliver(MAILBOX_USER, reply(top=(genuine,)))
    await run_inbox(inbox_flow)
    [mail] = await mails(inbox_flow.engine)
    assert mail.status == "reply_received"


@pytest.mark.parametrize(
    ("attachment_change", "detail"),
    [
        ({"2\\accepted\\88514": "2\\accepted\\99999"}, "not in the run"),
        ({"fileTrailer\\1\\0\\0": "fileTrailer\\2\\0\\0"}, "trailer counts"),
    ],
)
async def test_a_reply_that_does_not_answer_exactly_its_run_is_not_applied(
    inbox_flow: MailFlow,
    mailbox: DovecotServer,
    attachment_change: dict[str, str],
    detail: str,
) -> None:
    await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    [(old, new)] = attachment_change.items()
    mailbox.deliver(MAILBOX_USER, reply(ATTACHMENT.replace(old, new)))
    await run_inbox(inbox_flow)
    [row] = await received(inbox_flow)
    assert row.flag == "reply_not_for_run" and detail in (row.flag_detail or "")
    [mail] = await mails(inbox_flow.engine)
    assert mail.status == "reply_pending"


async def test_a_second_reply_for_an_answered_run_never_changes_an_outcome(
    inbox_flow: MailFlow, mailbox: DovecotServer
) -> None:
    await add_answered_batch(inbox_flow.engine, 29236, REFERENCES, reply=None)
    mailbox.deliver(MAILBOX_USER, reply())
    await run_inbox(inbox_flow)
    [mail] = await mails(inbox_flow.engine)
    answer = mail.response_data

    mailbox.deliver(MAILBOX_USER, reply(ATTACHMENT + "\n"))  # same run, another message
    report = await run_inbox(inbox_flow)
    assert report.flagged == 1
    first, again = await received(inbox_flow)
    assert (first.flag, again.flag, again.mail_id) == (None, "second_reply", None)
    [mail] = await mails(inbox_flow.engine)
    assert (mail.status, mail.response_data) == ("reply_received", answer)
    async with app_client(create_app(inbox_flow.settings)) as client:
        metrics = (await client.get("/metrics")).text
    assert 'licence_gateway_hmrc_replies_flagged{flag="second_reply"} 1.0' in metrics
