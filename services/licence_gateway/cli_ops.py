"""Operator commands (reference section 10): repair the mail flow and check its connections.

Each prints what it did (or, with --dry-run, what it would do) and exits 0; a refusal or a
failure prints one `error:` line on stderr and exits 1 (2 when a setting is missing).
Commands that send or build licenceData hold the batching lock, so they never race the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.adapters.icms import IcmsError
from licence_gateway.adapters.pop3 import Pop3Error
from licence_gateway.adapters.smtp import SmtpError, new_message_id
from licence_gateway.domain.chief import (
    FakeReply,
    ReplyOutcome,
    fake_licence_reply,
    licence_reply_file_name,
    parse_licence_reply,
)
from licence_gateway.domain.email_message import EmailParseError, parse_hmrc_email
from licence_gateway.domain.hmrc_sender import check_hmrc_sender
from licence_gateway.domain.mail_state import ExtractType, MailStatus
from licence_gateway.jobs.batching import (
    BatcherBusy,
    SendFailed,
    batching_session,
    commit_batch,
    deliver_stored,
    mark_sent,
    send_pending_mail,
)
from licence_gateway.jobs.callbacks import redeliver_outcome
from licence_gateway.jobs.context import MailFlow, open_mail_flow
from licence_gateway.jobs.inbox import Envelope
from licence_gateway.settings import LicenceGatewaySettings, NotConfiguredError, get_settings
from licence_gateway.store.mail import (
    BatchPayload,
    IcmsCallback,
    LicenceDataBatch,
    Mail,
    batch_of_mail,
    licence_mail_in_flight,
    move_mail,
    parked_callback,
    record_send_failure,
)
from licence_gateway.store.payloads import LicencePayload
from service_kit.cli import fail, settings_or_exit

TEST_FILE_TEXT = "some ☃ test ☃ data"  # the original's check: SMTP and transliteration at once


class Refused(Exception):
    """The command cannot do what was asked; the message says why."""


Say = Callable[[str], None]


async def _batch_or_refuse(session: AsyncSession, mail_id: int) -> LicenceDataBatch:
    batch = await batch_of_mail(session, mail_id)
    if batch is None:
        raise Refused(f"mail {mail_id} has no licenceData batch")
    return batch


def run(work: Callable[[MailFlow], Awaitable[None]]) -> None:
    """Run one command's work with a MailFlow; turn every expected failure into one clear line."""
    settings = settings_or_exit(get_settings)

    async def main(settings: LicenceGatewaySettings) -> None:
        async with open_mail_flow(settings, application_name="licence_gateway_ops") as flow:
            await work(flow)

    try:
        asyncio.run(main(settings))
    except NotConfiguredError as exc:
        fail(str(exc), 2)
    except (Refused, BatcherBusy, SendFailed, SmtpError, Pop3Error, IcmsError) as exc:
        fail(str(exc), 1)
    except (OSError, DBAPIError) as exc:
        fail(f"cannot use the database: {exc}".splitlines()[0], 1)


def dry_run_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dry-run", is_flag=True, help="Say what would be done; change and send nothing."
    )(function)


# --- resend-email ----------------------------------------------------------------------------


async def resend_email(flow: MailFlow, mail_id: int, dry_run: bool, say: Say) -> None:
    async with batching_session(flow) as session:
        mail = await session.get(Mail, mail_id, with_for_update=True)
        if mail is None:
            raise Refused(f"no mail {mail_id}")
        if mail.extract_type != ExtractType.LICENCE_DATA:
            raise Refused(f"mail {mail_id} is {mail.extract_type}; only licence_data is sent")
        if mail.status not in (MailStatus.PENDING, MailStatus.REPLY_PENDING):
            raise Refused(
                f"mail {mail_id} is expected to be pending or reply_pending but is {mail.status}"
            )
        batch = await batch_of_mail(session, mail.id)
        if batch is None or mail.message_bytes is None:
            raise Refused(f"mail {mail.id} has no stored file to send")
        what = f"mail {mail.id} (run {batch.run_number}, {batch.file_name}, {mail.message_id})"
        if dry_run:
            say(f"dry run: would re-send {what} to {flow.smtp.config.to_address}")
            return
        try:
            await deliver_stored(flow, mail.message_bytes)
        except SmtpError as exc:
            await record_send_failure(session, mail, str(exc))
            await session.commit()
            raise
        if mail.status == MailStatus.PENDING:
            await mark_sent(session, flow, mail, "sent by an operator")
        else:
            await move_mail(
                session,
                mail,
                MailStatus.REPLY_PENDING,
                "re-sent by an operator",
                sent_at=flow.clock(),
                send_attempts=mail.send_attempts + 1,
            )
            await session.commit()
        say(f"re-sent {what}, same bytes and Message-ID; it awaits its reply")


# --- recreate-and-send -----------------------------------------------------------------------


async def recreate_and_send(flow: MailFlow, mail_id: int | None, dry_run: bool, say: Say) -> None:
    """Send again, under a new run number, the licences CHIEF did not process (section 8.3)."""
    async with batching_session(flow) as session:
        mail = await _mail_to_recreate(session, mail_id)
        batch = await _batch_or_refuse(session, mail.id)
        remaining = await _unanswered_payloads(session, batch)
        refs = ", ".join(p.reference for p in remaining) or "none"
        if dry_run:
            say(
                f"dry run: would close mail {mail.id} (run {batch.run_number}) and send"
                f" {len(remaining)} licence(s) again under a new run number: {refs}"
            )
            return
        if not remaining:
            await move_mail(session, mail, MailStatus.REPLY_PROCESSED, "nothing left to re-send")
            await session.commit()
            say(f"mail {mail.id} (run {batch.run_number}) closed: every licence was answered")
            return
        await move_mail(session, mail, MailStatus.REPLY_PROCESSED, "recreated by an operator")
        # One commit closes the old mail and creates the new one: the gate is never left open.
        new_mail = await commit_batch(
            session, flow, remaining, reason=f"recreated from run {batch.run_number}"
        )
        new_batch = await _batch_or_refuse(session, new_mail.id)
        summary = (
            f"mail {mail.id} (run {batch.run_number}) closed; {len(remaining)} licence(s)"
            f" recreated as mail {new_mail.id}, run {new_batch.run_number} ({refs})"
        )
        try:
            await send_pending_mail(session, flow, new_mail)
        except SendFailed as exc:
            raise Refused(f"{summary}, but not sent yet ({exc}); the batching job will") from exc
        say(f"{summary}, sent")


async def _mail_to_recreate(session: AsyncSession, mail_id: int | None) -> Mail:
    mail = (
        await session.get(Mail, mail_id, with_for_update=True)
        if mail_id is not None
        else await licence_mail_in_flight(session, lock=True)
    )
    if mail is None:
        raise Refused(f"no mail {mail_id}" if mail_id else "no licenceData mail is in flight")
    if mail.extract_type != ExtractType.LICENCE_DATA:
        raise Refused(f"mail {mail.id} is {mail.extract_type}, not licence_data")
    if mail.status == MailStatus.REPLY_PARTIALLY_PROCESSED:
        return mail
    if mail.status == MailStatus.REPLY_RECEIVED:
        outcome = parse_licence_reply(mail.response_data or "").outcome
        has_callback = await session.scalar(
            select(IcmsCallback.id).where(IcmsCallback.mail_id == mail.id)
        )
        if outcome in (ReplyOutcome.VALID, ReplyOutcome.PARTIALLY_VALID) or has_callback:
            raise Refused(
                f"mail {mail.id}'s reply is {outcome.value} and goes to ICMS first;"
                " run this again once it is reply_partially_processed"
            )
        return mail
    raise Refused(
        f"mail {mail.id} is {mail.status}; only a partially processed mail, or one whose reply"
        " CHIEF could not process, can be recreated"
    )


async def _unanswered_payloads(
    session: AsyncSession, batch: LicenceDataBatch
) -> list[LicencePayload]:
    rows = await session.scalars(
        select(LicencePayload)
        .join(BatchPayload, BatchPayload.payload_id == LicencePayload.id)
        .where(BatchPayload.batch_id == batch.id, BatchPayload.outcome.is_(None))
        .order_by(BatchPayload.position)
    )
    return list(rows)


# --- set-skip-flag ---------------------------------------------------------------------------


async def set_skip_flag(
    flow: MailFlow, payload_id: int, skip: bool, dry_run: bool, say: Say
) -> None:
    async with flow.sessions() as session:
        # Waits for a batching run that has claimed the row, then sees it processed.
        payload = await session.get(LicencePayload, payload_id, with_for_update=True)
        if payload is None:
            raise Refused(f"no payload {payload_id}")
        what = f"payload {payload.id} ({payload.reference}, {payload.action})"
        if payload.is_processed:
            raise Refused(f"{what} is already in a licenceData file; its flag cannot change")
        effect = "be left out of batches" if skip else "go in the next batch"
        if dry_run:
            say(f"dry run: would set skip_process={str(skip).lower()} on {what}; it would {effect}")
            return
        payload.skip_process = skip
        await session.commit()
        say(f"skip_process={str(skip).lower()} on {what}; it will {effect}")


# --- redeliver -------------------------------------------------------------------------------


async def redeliver(flow: MailFlow, payload_id: int, dry_run: bool, say: Say) -> None:
    """Send a parked licence's outcome to ICMS again, once someone has fixed it in ICMS."""
    async with flow.sessions() as session:
        payload = await session.get(LicencePayload, payload_id)
        if payload is None:
            raise Refused(f"no payload {payload_id}")
        icms_id = str(payload.icms_id)
        callback = await parked_callback(session, payload.id, icms_id, lock=True)
        what = f"payload {payload.id} ({payload.reference}, ICMS id {icms_id})"
        if callback is None:
            raise Refused(f"{what} is not parked: ICMS has not refused its outcome")
        if dry_run:
            say(f"dry run: would send the outcome of {what} to ICMS again")
            say(f"ICMS refused it with: {callback.refused_ids[icms_id]}")
            return
        await redeliver_outcome(await flow.icms(), callback, icms_id)
        await session.commit()
        say(f"ICMS took the outcome of {what}; it is no longer parked")


# --- fake-reply ------------------------------------------------------------------------------


async def fake_reply(flow: MailFlow, outcome: FakeReply, dry_run: bool, say: Say) -> None:
    if flow.settings.environment != "development":
        raise Refused(
            "fake-reply only runs in development (LICENCE_GATEWAY_ENVIRONMENT=development);"
            f" this is {flow.settings.environment}"
        )
    async with flow.sessions() as session:
        mail = await licence_mail_in_flight(session, lock=True)
        if mail is None or mail.status != MailStatus.REPLY_PENDING:
            raise Refused("no licenceData mail is waiting for a reply")
        batch = await _batch_or_refuse(session, mail.id)
        references = [p.reference for p in await _batch_payloads(session, batch)]
        now = flow.clock()
        name = licence_reply_file_name(batch.run_number, now)
        if dry_run:
            say(f"dry run: would store a fake {outcome.value} reply {name} on mail {mail.id}")
            return
        text = fake_licence_reply(
            outcome, run_number=batch.run_number, references=references, created_at=now
        )
        await move_mail(
            session,
            mail,
            MailStatus.REPLY_RECEIVED,
            f"fake {outcome.value} reply (development)",
            response_filename=name,
            response_subject=name,
            response_data=text,
            response_date=now,
        )
        await session.commit()
        say(f"fake {outcome.value} reply {name} stored on mail {mail.id} (run {batch.run_number})")


async def _batch_payloads(session: AsyncSession, batch: LicenceDataBatch) -> list[LicencePayload]:
    rows = await session.scalars(
        select(LicencePayload)
        .join(BatchPayload, BatchPayload.payload_id == LicencePayload.id)
        .where(BatchPayload.batch_id == batch.id)
        .order_by(BatchPayload.position)
    )
    return list(rows)


# --- connection checks -----------------------------------------------------------------------


async def check_email_sending(flow: MailFlow, send_to: str | None, dry_run: bool, say: Say) -> None:
    config = flow.smtp.config
    recipient = send_to or config.to_address
    where = f"{config.host}:{config.port} ({config.security}, {config.auth} login)"
    if dry_run:
        say(f"dry run: would send a test e-mail through {where} to {recipient}")
        return
    await flow.smtp.send_file(
        recipient=recipient,
        subject="Test email",
        file_name="test_file.txt",
        text=TEST_FILE_TEXT,
        message_id=new_message_id(),
    )
    say(f"{where} accepted a test e-mail to {recipient}")


async def check_mailbox(flow: MailFlow, fetch_email: bool, dry_run: bool, say: Say) -> None:
    config = flow.mailbox.config
    where = f"{config.username} at {config.host}:{config.port} ({config.security}, {config.auth})"
    if dry_run:
        say(f"dry run: would log in to {where} and count the messages")
        return
    say(f"{where}: {await flow.mailbox.count()} message(s)")
    if fetch_email:
        for message in (await flow.mailbox.fetch_all())[-3:]:
            say(_describe(message.raw, flow.settings))


def _describe(raw: bytes | None, settings: LicenceGatewaySettings) -> str:
    if raw is None:
        return "- (too large to fetch)"
    verdict = check_hmrc_sender(
        raw, settings.hmrc_sender_address, settings.hmrc_trusted_authserv_id
    )
    envelope = Envelope.of(raw, verdict)
    try:
        attachment = parse_hmrc_email(raw).attachment_name
    except EmailParseError as exc:
        attachment = f"unusable: {exc}"
    sender_ok = "HMRC" if verdict.problem is None else "NOT HMRC"
    return (
        f"- subject: {envelope.subject!r}, from: {envelope.sender} ({sender_ok}),"
        f" attachment: {attachment}"
    )


async def check_icms_connection(flow: MailFlow, dry_run: bool, say: Say) -> None:
    if dry_run:
        say(f"dry run: would POST a Hawk-signed check to {flow.settings.icms_api_url}")
        return
    icms = await flow.icms()
    await icms.check_connection()
    say(f"ICMS at {flow.settings.icms_api_url} answered the signed check correctly")


# --- click -----------------------------------------------------------------------------------


def add_ops_commands(group: click.Group) -> None:
    say: Say = click.echo

    @group.command("resend-email")
    @click.argument("mail_id", type=int)
    @dry_run_option
    def resend_email_command(mail_id: int, dry_run: bool) -> None:
        """Send a licenceData mail again: same bytes, same Message-ID (HMRC never got it)."""
        run(lambda flow: resend_email(flow, mail_id, dry_run, say))

    @group.command("recreate-and-send")
    @click.option("--mail-id", type=int, help="The mail to recreate (default: the one in flight).")
    @dry_run_option
    def recreate_and_send_command(mail_id: int | None, dry_run: bool) -> None:
        """Send the licences CHIEF did not process again, under the next run number."""
        run(lambda flow: recreate_and_send(flow, mail_id, dry_run, say))

    @group.command("set-skip-flag")
    @click.argument("payload_id", type=int)
    @click.option("--unset", is_flag=True, help="Clear the flag: the payload is sent again.")
    @dry_run_option
    def set_skip_flag_command(payload_id: int, unset: bool, dry_run: bool) -> None:
        """Keep an unsent payload out of every batch (or, with --unset, let it go)."""
        run(lambda flow: set_skip_flag(flow, payload_id, not unset, dry_run, say))

    @group.command("redeliver")
    @click.argument("payload_id", type=int)
    @dry_run_option
    def redeliver_command(payload_id: int, dry_run: bool) -> None:
        """Send the outcome of a licence ICMS refused (parked) to ICMS again."""
        run(lambda flow: redeliver(flow, payload_id, dry_run, say))

    @group.command("fake-reply")
    @click.option("--outcome", type=click.Choice([o.value for o in FakeReply]), default="accept")
    @dry_run_option
    def fake_reply_command(outcome: str, dry_run: bool) -> None:
        """Development only: answer the mail in flight as CHIEF would."""
        run(lambda flow: fake_reply(flow, FakeReply(outcome), dry_run, say))

    @group.command("check-email-sending")
    @click.option("--send-to", help="Recipient (default: the CHIEF address).")
    @dry_run_option
    def check_email_sending_command(send_to: str | None, dry_run: bool) -> None:
        """Send a test e-mail with a non-ASCII attachment through the configured SMTP server."""
        run(lambda flow: check_email_sending(flow, send_to, dry_run, say))

    @group.command("check-mailbox")
    @click.option("--fetch-email", is_flag=True, help="Also show the last three messages.")
    @dry_run_option
    def check_mailbox_command(fetch_email: bool, dry_run: bool) -> None:
        """Log in to the HMRC mailbox and count its messages (deletes nothing)."""
        run(lambda flow: check_mailbox(flow, fetch_email, dry_run, say))

    @group.command("check-icms-connection")
    @dry_run_option
    def check_icms_connection_command(dry_run: bool) -> None:
        """POST a Hawk-signed {"foo": "bar"} to ICMS and check its signed answer."""
        run(lambda flow: check_icms_connection(flow, dry_run, say))
