"""Mail flow tables: batches, mails and their event history, e-mails received, ICMS callbacks.

Every status change goes through `move_mail`, which asks the state machine and appends the event
in the caller's transaction, so the history can never disagree with the status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from licence_gateway.domain.mail_state import ExtractType, MailStatus, transition
from licence_gateway.store.base import Base

Timestamp = DateTime(timezone=True)


class Mail(Base):
    """One outbound licenceData e-mail (its reply is written onto the same row) or one usageData."""

    __tablename__ = "mails"
    __table_args__ = (Index("ix_mails_extract_type_status", "extract_type", "status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    extract_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30))
    # The exact message handed to SMTP: a re-send repeats these bytes and this Message-ID.
    message_id: Mapped[str | None] = mapped_column(Text, unique=True)
    message_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    send_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    response_filename: Mapped[str | None] = mapped_column(Text)
    response_data: Mapped[str | None] = mapped_column(Text)
    response_date: Mapped[datetime | None] = mapped_column(Timestamp)
    response_subject: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class MailEvent(Base):
    """Append-only history of a mail's status."""

    __tablename__ = "mail_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("mails.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class LicenceDataBatch(Base):
    """One licenceData file: its run number (never reused), the file and the mail carrying it."""

    __tablename__ = "licence_data_batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_number: Mapped[int] = mapped_column(Integer, unique=True)
    source: Mapped[str] = mapped_column(String(10), server_default=text("'ICMS'"))
    file_name: Mapped[str] = mapped_column(Text)
    # The file as built (before ASCII transliteration), like the original's edi_data.
    file_text: Mapped[str] = mapped_column(Text)
    mail_id: Mapped[int] = mapped_column(ForeignKey("mails.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class BatchPayload(Base):
    """A payload carried by a batch, in file order, and what CHIEF said about it.

    Its references are kept by statement-level triggers (migration lg0005), not by foreign keys:
    a batch writes 10,000 rows at once, and two row-level key checks each cost more than the
    insert itself.
    """

    __tablename__ = "licence_data_batch_payloads"

    batch_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payload_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(10))  # accepted / rejected
    errors: Mapped[list[dict[str, str]] | None] = mapped_column(JSONB)


class ReceivedEmail(Base):
    """An e-mail read from the HMRC mailbox, stored raw before it is deleted from the box."""

    __tablename__ = "received_emails"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[str] = mapped_column(Text, unique=True)
    uidl: Mapped[str | None] = mapped_column(Text, index=True)
    sender: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # licence_reply / usage_data
    run_number: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    attachment_name: Mapped[str | None] = mapped_column(Text)
    attachment_text: Mapped[str | None] = mapped_column(Text)
    # Why it was stored but not applied (run_number_mismatch, no_mail_in_flight, unreadable).
    flag: Mapped[str | None] = mapped_column(String(40))
    flag_detail: Mapped[str | None] = mapped_column(Text)
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mails.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class IcmsCallback(Base):
    """The body owed to ICMS for one mail, computed once and POSTed until ICMS accepts it."""

    __tablename__ = "icms_callbacks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("mails.id"), unique=True)
    path: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # The status the mail takes once ICMS has the body.
    next_status: Mapped[str] = mapped_column(String(30))
    delivered: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # When ICMS refuses a run's body (422), its licences are delivered in parts: ICMS ids it
    # took ({id: true}), and those it refused on their own, parked with its answer ({id: text}).
    delivered_ids: Mapped[dict[str, bool]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb"), default=dict
    )
    refused_ids: Mapped[dict[str, str]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb"), default=dict
    )


# --- queries and the one way to change a mail's status ------------------------------------


async def move_mail(
    session: AsyncSession, mail: Mail, target: MailStatus, reason: str, **changes: Any
) -> None:
    """Apply a legal status change (and any column changes) and append its event."""
    # The status is read again under a row lock: another job may have moved the mail since it
    # was loaded, and writing over that move would lose it (found by crash injection).
    await session.flush()
    await session.refresh(mail, attribute_names=["status"], with_for_update=True)
    current = MailStatus(mail.status)
    transition(ExtractType(mail.extract_type), current, target)
    for name, value in changes.items():
        setattr(mail, name, value)
    mail.status = target
    session.add(MailEvent(mail_id=mail.id, from_status=current, to_status=target, reason=reason))
    await session.flush()


async def create_mail(
    session: AsyncSession, extract_type: ExtractType, status: MailStatus, reason: str, **fields: Any
) -> Mail:
    """Insert a mail in its first state, with its first event."""
    mail = Mail(extract_type=extract_type, status=transition(extract_type, None, status), **fields)
    session.add(mail)
    await session.flush()
    session.add(MailEvent(mail_id=mail.id, from_status=None, to_status=status, reason=reason))
    await session.flush()
    return mail


async def licence_mail_in_flight(session: AsyncSession, *, lock: bool = False) -> Mail | None:
    """The oldest licence_data mail that still blocks sending (the gate of section 1.5)."""
    query = (
        select(Mail)
        .where(
            Mail.extract_type == ExtractType.LICENCE_DATA,
            Mail.status != MailStatus.REPLY_PROCESSED,
        )
        .order_by(Mail.created_at, Mail.id)
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    result: Mail | None = await session.scalar(query)
    return result


async def batch_of_mail(session: AsyncSession, mail_id: int) -> LicenceDataBatch | None:
    result: LicenceDataBatch | None = await session.scalar(
        select(LicenceDataBatch).where(LicenceDataBatch.mail_id == mail_id)
    )
    return result


async def next_run_number(session: AsyncSession, first_run_number: int) -> int:
    """Section 3.7: one more than the run of the most recently created batch."""
    latest = await session.scalar(
        select(LicenceDataBatch.run_number)
        .join(Mail, Mail.id == LicenceDataBatch.mail_id)
        .order_by(Mail.created_at.desc(), LicenceDataBatch.id.desc())
        .limit(1)
    )
    return first_run_number if latest is None else latest + 1


async def record_send_failure(session: AsyncSession, mail: Mail, error: str) -> None:
    mail.send_attempts += 1
    mail.last_error = error
    await session.flush()


async def parked_callback(
    session: AsyncSession, payload_id: int, icms_id: str, *, lock: bool = False
) -> IcmsCallback | None:
    """The callback in which ICMS refused this payload's outcome and it waits, parked."""
    query = (
        select(IcmsCallback)
        .join(LicenceDataBatch, LicenceDataBatch.mail_id == IcmsCallback.mail_id)
        .join(BatchPayload, BatchPayload.batch_id == LicenceDataBatch.id)
        .where(BatchPayload.payload_id == payload_id, IcmsCallback.refused_ids.has_key(icms_id))
        .order_by(IcmsCallback.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update(of=IcmsCallback)
    result: IcmsCallback | None = await session.scalar(query)
    return result
