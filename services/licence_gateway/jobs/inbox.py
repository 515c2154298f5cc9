"""The HMRC mailbox: read licenceReply and usageData e-mails over POP3 (sections 6.2, 7, 8.1, 9.1).

Each message is handled on its own: stored raw (with its attachment, and the mail moved to
`reply_received`) in one transaction, and deleted from the box only after that commit. A message
already stored (same Message-ID) is deleted without a second row, so a pass cut short anywhere
is simply repeated. Mail that is not HMRC's, or not a reply, is left in the box and
logged once. One odd message never blocks the others (section 14.6).

Only HMRC's own reply to exactly its run is applied (issue 18.2): a reply whose sender fails the
strict check (`domain/hmrc_sender.py`) but names HMRC's address, one that does not answer the run
awaiting it, and a second reply for an answered run are stored flagged and never applied.
"""

from __future__ import annotations

import email.policy
import hashlib
import logging
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

from arq import Retry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.adapters.pop3 import MailboxMessage, Pop3Error
from licence_gateway.domain.chief import ChiefFormatError, parse_licence_reply, reply_mismatch
from licence_gateway.domain.email_message import EmailParseError, parse_hmrc_email
from licence_gateway.domain.hmrc_sender import SenderVerdict, check_hmrc_sender
from licence_gateway.domain.mail_state import ExtractType, MailStatus
from licence_gateway.jobs.context import MailFlow
from licence_gateway.settings import require
from licence_gateway.store.mail import (
    BatchPayload,
    LicenceDataBatch,
    Mail,
    ReceivedEmail,
    create_mail,
    licence_mail_in_flight,
    move_mail,
)
from licence_gateway.store.payloads import LicencePayload

logger = logging.getLogger(__name__)

# How long "already logged" is remembered for a message left in the box.
IGNORED_MEMORY_SECONDS = 30 * 24 * 3600


@dataclass
class InboxReport:
    stored: int = 0
    flagged: int = 0
    duplicates: int = 0
    left: int = 0
    deleted: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return (
            f"stored {self.stored}, flagged {self.flagged}, already stored {self.duplicates},"
            f" left in the box {self.left}"
        )


@dataclass(frozen=True)
class Envelope:
    """What routing needs, read leniently so that even an unparseable e-mail can be routed."""

    message_id: str
    sender: str  # the one From addr-spec, else the From header as written
    subject: str

    @classmethod
    def of(cls, raw: bytes, verdict: SenderVerdict | None = None) -> Envelope:
        headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        message_id = str(headers.get("Message-ID", "")).strip()
        return cls(
            # A message without a Message-ID is known by a digest of its bytes.
            message_id=message_id or f"<sha256.{hashlib.sha256(raw).hexdigest()}@no-message-id>",
            sender=(verdict.address if verdict else "")
            or " ".join(str(headers.get("From", "")).split()).lower(),
            subject=" ".join(str(headers.get("Subject", "")).split()),
        )


def kind_of(subject: str) -> str | None:
    """Route by subject (section 6.2)."""
    if "licenceReply" in subject:
        return "licence_reply"
    if "usageData" in subject:
        return "usage_data"
    return None


def run_number_from_subject(subject: str, kind: str) -> int | None:
    """`CHIEF_licenceReply_29236_...` -> 29236 (token 2); usageData's is token 4 (section 7)."""
    tokens = subject.split("_")
    index = 2 if kind == "licence_reply" else 4
    try:
        return int(tokens[index])
    except (IndexError, ValueError):
        return None


async def run_inbox(flow: MailFlow) -> InboxReport:
    """One pass: fetch everything, store each message in its own commit, then delete those."""
    require(flow.settings, "Reading the HMRC mailbox", "hmrc_sender_address")
    report = InboxReport()
    for message in await flow.mailbox.fetch_all():
        if await _handle(flow, message, report):
            report.deleted.add(message.uid)
    if report.deleted:
        await flow.mailbox.delete(report.deleted)
    logger.info("mailbox pass done", extra={"report": str(report)})
    return report


async def _handle(flow: MailFlow, message: MailboxMessage, report: InboxReport) -> bool:
    """Store one message if it is HMRC's; True when it may now be deleted from the box."""
    if message.raw is None:
        report.left += 1
        await _log_once(flow, message.uid, "too large to fetch", message.uid, "")
        return False
    settings = flow.settings
    verdict = check_hmrc_sender(
        message.raw, settings.hmrc_sender_address, settings.hmrc_trusted_authserv_id
    )
    envelope = Envelope.of(message.raw, verdict)
    kind = kind_of(envelope.subject)
    from_hmrc = verdict.problem is None
    # A reply that only claims to be HMRC's is kept as evidence (flagged, never applied).
    if kind is None or not (from_hmrc or verdict.claims_hmrc):
        report.left += 1
        reason = "not a reply" if from_hmrc else "not from HMRC"
        await _log_once(flow, message.uid, reason, envelope.sender, envelope.subject)
        return False
    async with flow.sessions() as session:
        if await _already_stored(session, envelope.message_id):
            report.duplicates += 1
            return True
        try:
            row = await _store(session, message, envelope, kind, verdict.problem)
            await session.commit()
        except IntegrityError:
            # Another pass stored it between our look and our insert (two workers, or a retry
            # beside the next slot): the message is safe, so this pass may delete it too.
            if not await _stored_elsewhere(flow, envelope.message_id):
                raise
            report.duplicates += 1
            return True
    if row.flag:
        report.flagged += 1
        logger.error(
            "HMRC e-mail stored but not applied",
            extra={
                "received_email_id": row.id,
                "subject": row.subject,
                "flag": row.flag,
                "detail": row.flag_detail,
            },
        )
    else:
        report.stored += 1
    return True


async def _already_stored(session: AsyncSession, message_id: str) -> bool:
    # By Message-ID, not UIDL: a server may reuse a UIDL, never the Message-ID of another mail.
    found = await session.scalar(
        select(ReceivedEmail.id).where(ReceivedEmail.message_id == message_id)
    )
    return found is not None


async def _stored_elsewhere(flow: MailFlow, message_id: str) -> bool:
    async with flow.sessions() as session:
        return await _already_stored(session, message_id)


async def _log_once(flow: MailFlow, uid: str, reason: str, sender: str, subject: str) -> None:
    """Warn about a message left in the box on the first pass that sees it, not on every pass."""
    first_time = await flow.redis.set(
        f"licence_gateway:inbox:left:{uid}", "1", nx=True, ex=IGNORED_MEMORY_SECONDS
    )
    if first_time:
        logger.warning(
            f"e-mail left in the mailbox: {reason}",
            extra={"sender": sender, "subject": subject, "uidl": uid},
        )


async def _store(
    session: AsyncSession,
    message: MailboxMessage,
    envelope: Envelope,
    kind: str,
    sender_problem: str | None,
) -> ReceivedEmail:
    if message.raw is None:
        raise RuntimeError(f"mailbox message {message.uid} was stored without its bytes")
    row = ReceivedEmail(
        message_id=envelope.message_id,
        uidl=message.uid,
        sender=envelope.sender,
        subject=envelope.subject,
        kind=kind,
        run_number=run_number_from_subject(envelope.subject, kind),
        raw=message.raw,
    )
    session.add(row)
    if sender_problem is not None:
        row.flag, row.flag_detail = "sender_not_verified", sender_problem
        return row
    try:
        parsed = parse_hmrc_email(message.raw)
    except EmailParseError as exc:
        row.flag, row.flag_detail = "unreadable", str(exc)
    else:
        row.attachment_name, row.attachment_text = parsed.attachment_name, parsed.attachment_text
        await session.flush()  # received_at, copied onto the mail
        if kind == "licence_reply":
            await _apply_reply(session, row)
        else:
            await _apply_usage(session, row)
    await session.flush()
    return row


async def _apply_reply(session: AsyncSession, row: ReceivedEmail) -> None:
    """Move the mail in flight to reply_received, if this reply answers exactly its run."""
    if row.attachment_text is None:
        raise RuntimeError(f"received e-mail {row.id} is a reply without its file")
    try:
        reply = parse_licence_reply(row.attachment_text)
    except ChiefFormatError as exc:
        row.flag, row.flag_detail = "unreadable", str(exc)
        return
    file_run = reply.run_number
    if await _run_already_answered(session, row, file_run):
        row.flag = SECOND_REPLY
        row.flag_detail = f"run {file_run} already has a licenceReply; this one is not applied"
        return
    mail = await licence_mail_in_flight(session, lock=True)
    if mail is None or mail.status not in (MailStatus.PENDING, MailStatus.REPLY_PENDING):
        row.flag = "no_mail_awaiting_reply"
        row.flag_detail = "no licenceData mail is waiting for a reply"
        return
    batch = await session.scalar(
        select(LicenceDataBatch).where(LicenceDataBatch.mail_id == mail.id)
    )
    if batch is None:
        raise RuntimeError(f"mail {mail.id} is awaiting a reply but has no batch")
    if row.run_number != batch.run_number or file_run != str(batch.run_number):
        row.flag = "run_number_mismatch"
        row.flag_detail = (
            f"mail {mail.id} awaits run {batch.run_number}; the subject says"
            f" {row.run_number}, the file header says {file_run}"
        )
        return
    references = await session.scalars(
        select(LicencePayload.reference)
        .join(BatchPayload, BatchPayload.payload_id == LicencePayload.id)
        .where(BatchPayload.batch_id == batch.id)
    )
    if mismatch := reply_mismatch(reply, set(references)):
        row.flag, row.flag_detail = "reply_not_for_run", f"run {batch.run_number}: {mismatch}"
        return
    if mail.status == MailStatus.PENDING:
        # The reply proves CHIEF has the mail: the send was accepted before we could record it.
        await move_mail(session, mail, MailStatus.REPLY_PENDING, "reply arrived, so it was sent")
    await move_mail(session, mail, MailStatus.REPLY_RECEIVED, f"licenceReply stored ({row.id})")
    _attach(mail, row)


SECOND_REPLY = "second_reply"


async def _run_already_answered(session: AsyncSession, row: ReceivedEmail, file_run: str) -> bool:
    """Has a reply for this run (by subject or file header) already been applied?"""
    runs = {run for run in (row.run_number, _as_int(file_run)) if run is not None}
    if not runs:
        return False
    applied = await session.scalar(
        select(ReceivedEmail.id)
        .join(Mail, Mail.id == ReceivedEmail.mail_id)
        .join(LicenceDataBatch, LicenceDataBatch.mail_id == Mail.id)
        .where(
            ReceivedEmail.kind == "licence_reply",
            ReceivedEmail.id != row.id,
            LicenceDataBatch.run_number.in_(runs),
        )
        .limit(1)
    )
    return applied is not None


def _as_int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


async def _apply_usage(session: AsyncSession, row: ReceivedEmail) -> None:
    mail = await create_mail(
        session, ExtractType.USAGE_DATA, MailStatus.REPLY_RECEIVED, f"usageData stored ({row.id})"
    )
    _attach(mail, row)


def _attach(mail: Mail, row: ReceivedEmail) -> None:
    row.mail_id = mail.id
    mail.response_filename = row.attachment_name
    mail.response_data = row.attachment_text
    mail.response_subject = row.subject
    mail.response_date = row.received_at


async def process_mailbox(ctx: dict[str, Any]) -> str:
    """arq cron job: one mailbox pass. A connection failure retries with back-off."""
    flow: MailFlow = ctx["mail_flow"]
    try:
        return str(await run_inbox(flow))
    except Pop3Error as exc:
        logger.warning("mailbox pass cut short; nothing was lost", extra={"error": str(exc)})
        if not exc.transient:
            raise
        raise Retry(defer=min(30 * ctx.get("job_try", 1), 120)) from exc
