"""Operator commands, through the real `licence-gateway` CLI and against the real servers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.cli import main
from licence_gateway.domain.mail_state import MailStatus
from licence_gateway.jobs.batching import run_batching
from licence_gateway.jobs.callbacks import run_callbacks
from licence_gateway.jobs.context import MailFlow
from licence_gateway.jobs.operations import recreate_and_send
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.store.mail import Mail, move_mail
from tests.licence_gateway.mail_fixtures import MAILBOX_USER, POP3_PASSWORD
from tests.licence_gateway.mail_flow_support import (
    HMRC,
    IcmsStandIn,
    add_payloads,
    attachment_text,
    batches,
    email,
    fixture_text,
    history,
    licences,
    mails,
    parsed,
    payloads,
)
from tests.licence_gateway.test_jobs_inbox import REPLY_29236
from tests.support.dovecot import DovecotServer
from tests.support.smtp_server import LocalSmtpServer, SmtpFault


def environment(settings: LicenceGatewaySettings) -> dict[str, str]:
    """The settings as the LICENCE_GATEWAY_* variables an operator's shell would hold."""
    env = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"LICENCE_GATEWAY_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


async def cli(settings: LicenceGatewaySettings, *args: str) -> Result:
    """Run the command in a thread, as its own asyncio program, like an operator would."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, main, list(args), env=environment(settings))


def error_line(result: Result) -> str:
    """The command's one error line (the in-process test servers may log on stderr too)."""
    return result.stderr.splitlines()[-1]


async def reply_received(mail_flow: MailFlow, mail_id: int, reply: str) -> None:
    async with AsyncSession(mail_flow.engine, expire_on_commit=False) as session:
        mail = await session.get(Mail, mail_id)
        assert mail is not None
        await move_mail(session, mail, MailStatus.REPLY_RECEIVED, "test", response_data=reply)
        await session.commit()


# --- resend-email ----------------------------------------------------------------------------


async def test_resend_email_repeats_the_same_message(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    await run_batching(mail_flow)
    [before] = await mails(mail_flow.engine)

    dry = await cli(mail_flow.settings, "resend-email", "1", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("dry run: would re-send mail 1 (run 1, CHIEF_LIVE_ILBDOTI_")
    assert len(chief_smtp.messages) == 1
    [untouched] = await mails(mail_flow.engine)  # the original's dry run still moved sent_at
    assert (untouched.sent_at, untouched.send_attempts) == (before.sent_at, 1)

    result = await cli(mail_flow.settings, "resend-email", "1")

    assert result.exit_code == 0, result.output
    assert "re-sent mail 1 (run 1" in result.stdout
    first, second = chief_smtp.messages
    assert first.data == second.data
    assert (await history(mail_flow.engine, 1))[-1] == ("reply_pending", "reply_pending")
    [mail] = await mails(mail_flow.engine)
    assert mail.send_attempts == 2


async def test_resend_email_refuses_what_it_cannot_resend(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    missing = await cli(mail_flow.settings, "resend-email", "99")
    assert (missing.exit_code, error_line(missing)) == (1, "error: no mail 99")

    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    await run_batching(mail_flow)
    await reply_received(mail_flow, 1, fixture_text("CHIEF_licenceReply_29236_202211101410_accept"))
    answered = await cli(mail_flow.settings, "resend-email", "1")
    assert answered.exit_code == 1
    assert "is reply_received" in error_line(answered)


async def test_resend_email_reports_an_smtp_refusal(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    await run_batching(mail_flow)
    chief_smtp.fault = SmtpFault.REFUSE_PERMANENT

    result = await cli(mail_flow.settings, "resend-email", "1")

    assert result.exit_code == 1
    assert "554" in error_line(result)
    [mail] = await mails(mail_flow.engine)
    assert (mail.status, mail.send_attempts) == ("reply_pending", 2)


# --- recreate-and-send -----------------------------------------------------------------------


async def partially_processed_run_123(mail_flow: MailFlow) -> None:
    """Run 123 carried an OIL, a DFL and a SIL licence; CHIEF accepted the OIL, then failed."""
    mail_flow.settings = mail_flow.settings.model_copy(update={"first_run_number": 123})
    await add_payloads(mail_flow.engine, licences("fa_oil_insert") + licences("recreate_run_124"))
    await run_batching(mail_flow)
    reply = (
        "1\\fileHeader\\CHIEF\\ILBDOTI\\licenceReply\\202401211400\\123\n"
        "2\\accepted\\IMA/2022/00001\n"
        "3\\fileError\\9\\CHIEF server application error\n"
    )
    await reply_received(mail_flow, 1, reply)
    await run_callbacks(mail_flow)
    [mail] = await mails(mail_flow.engine)
    assert mail.status == MailStatus.REPLY_PARTIALLY_PROCESSED


async def test_recreate_and_send_sends_what_chief_did_not_process_as_the_next_run(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, icms_stand_in: IcmsStandIn
) -> None:
    await partially_processed_run_123(mail_flow)
    mail_flow.clock.now = datetime(2024, 1, 21, 14, 10, tzinfo=UTC)  # type: ignore[attr-defined]
    said: list[str] = []

    await recreate_and_send(mail_flow, None, False, said.append)

    assert said == [
        "mail 1 (run 123) closed; 2 licence(s) recreated as mail 2, run 124"
        " (IMA/2022/00002, IMA/2022/00003), sent"
    ]
    recreated = chief_smtp.messages[-1].data
    assert parsed(recreated)["Subject"] == "CHIEF_LIVE_ILBDOTI_licenceData_124_202401211410"
    assert attachment_text(recreated) == fixture_text("recreate_run_124").replace("\r\n", "\n")
    old, new = await mails(mail_flow.engine)
    assert (old.status, new.status) == ("reply_processed", "reply_pending")
    assert (await history(mail_flow.engine, old.id))[-1] == (
        "reply_partially_processed",
        "reply_processed",
    )
    assert [b.run_number for b in await batches(mail_flow.engine)] == [123, 124]

    # The run number after a recreate follows the recreated run.
    await add_payloads(mail_flow.engine, [licences("sanction_insert")[0]])
    await reply_received(mail_flow, new.id, "1\\fileHeader\\CHIEF\\ILBDOTI\\licenceReply\\1\\124\n")
    async with AsyncSession(mail_flow.engine) as session:
        mail = await session.get(Mail, new.id)
        assert mail is not None
        await move_mail(session, mail, MailStatus.REPLY_PROCESSED, "test")
        await session.commit()
    await run_batching(mail_flow)
    assert [b.run_number for b in await batches(mail_flow.engine)] == [123, 124, 125]


async def test_recreate_and_send_through_the_cli(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, icms_stand_in: IcmsStandIn
) -> None:
    await partially_processed_run_123(mail_flow)

    dry = await cli(mail_flow.settings, "recreate-and-send", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout == (
        "dry run: would close mail 1 (run 123) and send 2 licence(s) again under a new run"
        " number: IMA/2022/00002, IMA/2022/00003\n"
    )
    assert len(await batches(mail_flow.engine)) == 1

    result = await cli(mail_flow.settings, "recreate-and-send")
    assert result.exit_code == 0, result.output
    assert "recreated as mail 2, run 124" in result.stdout

    again = await cli(mail_flow.settings, "recreate-and-send", "--mail-id", "1")
    assert again.exit_code == 1
    assert "mail 1 is reply_processed" in error_line(again)


async def test_a_reply_with_only_file_errors_is_recovered_by_recreating_the_whole_run(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, icms_stand_in: IcmsStandIn
) -> None:
    """The original left such a mail in reply_received for ever, blocking every batch (14.8)."""
    await add_payloads(mail_flow.engine, licences("fa_dfl_insert"))
    await run_batching(mail_flow)
    await reply_received(
        mail_flow, 1, fixture_text("CHIEF_licenceReply_29236_202211101410_file_error")
    )
    assert (await run_callbacks(mail_flow)).needs_operator == [1]

    result = await cli(mail_flow.settings, "recreate-and-send")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "mail 1 (run 1) closed; 2 licence(s) recreated as mail 2, run 2"
        " (IMA/2022/00002, IMA/2022/00003), sent\n"
    )
    first, second = (attachment_text(m.data).splitlines() for m in chief_smtp.messages)
    assert second[1:] == first[1:]  # the same licences, under a new header
    assert second[0].split("\\")[6] == "2"  # fileHeader runNum
    old, new = await mails(mail_flow.engine)
    assert (old.status, new.status) == ("reply_processed", "reply_pending")
    assert (await history(mail_flow.engine, 1))[-1] == ("reply_received", "reply_processed")


# --- set-skip-flag ---------------------------------------------------------------------------


async def test_set_skip_flag_keeps_a_payload_out_and_can_be_undone(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    [payload_id] = await add_payloads(mail_flow.engine, licences("fa_oil_insert"))

    dry = await cli(mail_flow.settings, "set-skip-flag", str(payload_id), "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.startswith("dry run:")
    assert [p.skip_process for p in await payloads(mail_flow.engine)] == [False]

    result = await cli(mail_flow.settings, "set-skip-flag", str(payload_id))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"skip_process=true on payload {payload_id} (IMA/2022/00001, insert);"
        " it will be left out of batches\n"
    )
    assert await run_batching(mail_flow) == "no licences to send"

    unset = await cli(mail_flow.settings, "set-skip-flag", str(payload_id), "--unset")
    assert unset.exit_code == 0
    assert await run_batching(mail_flow) == "mail 1 sent"

    processed = await cli(mail_flow.settings, "set-skip-flag", str(payload_id))
    assert processed.exit_code == 1
    assert "already in a licenceData file" in error_line(processed)


# --- fake-reply ------------------------------------------------------------------------------


async def test_fake_reply_is_refused_outside_development(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    result = await cli(mail_flow.settings, "fake-reply", "--outcome", "accept")
    assert result.exit_code == 1
    assert "only runs in development" in error_line(result)


@pytest.mark.parametrize("outcome", ["accept", "reject", "file_error"])
async def test_fake_reply_answers_the_mail_in_flight(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, outcome: str
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_dfl_insert"))
    await run_batching(mail_flow)
    development = mail_flow.settings.model_copy(update={"environment": "development"})

    dry = await cli(development, "fake-reply", "--outcome", outcome, "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.startswith("dry run:")

    result = await cli(development, "fake-reply", "--outcome", outcome)

    assert result.exit_code == 0, result.output
    [mail] = await mails(mail_flow.engine)
    assert mail.status == "reply_received"
    assert mail.response_filename and mail.response_filename.startswith("CHIEF_licenceReply_1_")
    reply = mail.response_data or ""
    assert reply.startswith("1\\fileHeader\\CHIEF\\ILBDOTI\\licenceReply\\")
    expected_record = {
        "accept": "\\accepted\\IMA/2022/00002",
        "reject": "\\error\\12345\\Fake error message for IMA/2022/00002",
        "file_error": "\\fileError\\18\\",
    }[outcome]
    assert expected_record in reply


# --- connection checks -----------------------------------------------------------------------


async def test_check_email_sending_sends_a_transliterated_test_file(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    dry = await cli(mail_flow.settings, "check-email-sending", "--dry-run")
    assert dry.exit_code == 0 and chief_smtp.messages == []

    result = await cli(mail_flow.settings, "check-email-sending", "--send-to", "ops@dit.test")

    assert result.exit_code == 0, result.output
    assert "accepted a test e-mail to ops@dit.test" in result.stdout
    [message] = chief_smtp.messages
    assert message.recipients == ["ops@dit.test"]
    assert parsed(message.data)["Subject"] == "Test email"
    assert attachment_text(message.data) == "some  test  data"  # unidecode drops the snowman


async def test_check_email_sending_fails_clearly(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    chief_smtp.fault = SmtpFault.REFUSE_TEMPORARY
    result = await cli(mail_flow.settings, "check-email-sending")
    assert result.exit_code == 1
    assert error_line(result).startswith("error: SMTP server answered 451")

    unconfigured = mail_flow.settings.model_copy(update={"smtp_host": ""})
    missing = await cli(unconfigured, "check-email-sending")
    assert missing.exit_code == 2
    assert "LICENCE_GATEWAY_SMTP_HOST" in error_line(missing)


@pytest.fixture
def mailbox_settings(
    mail_flow: MailFlow, dovecot: DovecotServer
) -> Iterator[LicenceGatewaySettings]:
    dovecot.clear(MAILBOX_USER)
    yield mail_flow.settings.model_copy(
        update={
            "pop3_host": "127.0.0.1",
            "pop3_port": dovecot.pop3_port,
            "pop3_security": "starttls",
            "pop3_auth": "password",
            "pop3_username": MAILBOX_USER,
            "pop3_password": SecretStr(POP3_PASSWORD),
            "hmrc_sender_address": HMRC,
        }
    )
    dovecot.clear(MAILBOX_USER)


async def test_check_mailbox_counts_and_shows_messages_without_deleting(
    mailbox_settings: LicenceGatewaySettings, dovecot: DovecotServer
) -> None:

    dovecot.deliver(MAILBOX_USER, email(REPLY_29236))
    dovecot.deliver(MAILBOX_USER, email(REPLY_29236, **{HMRC: "x@elsewhere.test"}))

    result = await cli(mailbox_settings, "check-mailbox", "--fetch-email")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": 2 message(s)")
    assert lines[1] == (
        "- subject: 'CHIEF_licenceReply_29236_202209231140', from: chief@hmrc_test_email.com"
        " (HMRC), attachment: CHIEF_licenceReply_29236_202209231140"
    )
    assert "(NOT HMRC)" in lines[2]
    assert dovecot.stored(MAILBOX_USER) == 2

    wrong = mailbox_settings.model_copy(update={"pop3_password": SecretStr("wrong")})
    refused = await cli(wrong, "check-mailbox")
    assert refused.exit_code == 1
    assert error_line(refused).startswith("error: POP3 login refused")


async def test_check_icms_connection(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn, chief_smtp: LocalSmtpServer
) -> None:
    dry = await cli(mail_flow.settings, "check-icms-connection", "--dry-run")
    assert dry.exit_code == 0 and icms_stand_in.received == []

    result = await cli(mail_flow.settings, "check-icms-connection")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ICMS at {icms_stand_in.url} answered the signed check correctly\n"
    [(path, body)] = icms_stand_in.received
    assert (path, body) == ("/chief/check-icms-connection/", b'{"foo": "bar"}')

    icms_stand_in.failures = 1
    down = await cli(mail_flow.settings, "check-icms-connection")
    assert down.exit_code == 1
    assert "ICMS answered 500" in error_line(down)
