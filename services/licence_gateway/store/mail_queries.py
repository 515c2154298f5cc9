"""Read-only queries behind the admin API: mails with their history, payloads with their batches.
The list queries are ordered statements; the API pages them with service_kit.pagination."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.store.mail import (
    BatchPayload,
    IcmsCallback,
    LicenceDataBatch,
    Mail,
    MailEvent,
    ReceivedEmail,
)
from licence_gateway.store.payloads import LicencePayload, payload_skipped, payload_waiting


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def mails_query(
    *,
    status: str | None,
    extract_type: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> Select[Mail, LicenceDataBatch]:
    """Newest first, each with its batch (None for usage mails)."""
    query = (
        select(Mail, LicenceDataBatch)
        .outerjoin(LicenceDataBatch, LicenceDataBatch.mail_id == Mail.id)
        .where(*_between(Mail.created_at, created_from, created_to))
        .order_by(Mail.created_at.desc(), Mail.id.desc())
    )
    if status is not None:
        query = query.where(Mail.status == status)
    if extract_type is not None:
        query = query.where(Mail.extract_type == extract_type)
    return query


@dataclass(frozen=True)
class MailDetail:
    mail: Mail
    batch: LicenceDataBatch | None
    events: Sequence[MailEvent]
    carried: Sequence[tuple[BatchPayload, LicencePayload]]
    callback: IcmsCallback | None
    emails: Sequence[ReceivedEmail]


async def mail_detail(session: AsyncSession, mail_id: int) -> MailDetail | None:
    mail = await session.get(Mail, mail_id)
    if mail is None:
        return None
    batch = await session.scalar(
        select(LicenceDataBatch).where(LicenceDataBatch.mail_id == mail_id)
    )
    carried: list[tuple[BatchPayload, LicencePayload]] = []
    if batch is not None:
        rows = await session.execute(
            select(BatchPayload, LicencePayload)
            .join(LicencePayload, LicencePayload.id == BatchPayload.payload_id)
            .where(BatchPayload.batch_id == batch.id)
            .order_by(BatchPayload.position)
        )
        carried = [(link, payload) for link, payload in rows]
    return MailDetail(
        mail=mail,
        batch=batch,
        events=await mail_events(session, mail_id),
        carried=carried,
        callback=await session.scalar(select(IcmsCallback).where(IcmsCallback.mail_id == mail_id)),
        emails=(
            await session.scalars(
                select(ReceivedEmail)
                .where(ReceivedEmail.mail_id == mail_id)
                .order_by(ReceivedEmail.id)
            )
        ).all(),
    )


async def mail_events(session: AsyncSession, mail_id: int) -> Sequence[MailEvent]:
    return (
        await session.scalars(
            select(MailEvent).where(MailEvent.mail_id == mail_id).order_by(MailEvent.id)
        )
    ).all()


def _latest_link() -> Any:
    """Each payload's most recent batch link (a payload is re-batched by recreate-and-send)."""
    return (
        select(BatchPayload.payload_id, func.max(BatchPayload.batch_id).label("batch_id"))
        .group_by(BatchPayload.payload_id)
        .subquery()
    )


def payloads_query(
    *,
    state: str | None,
    received_from: datetime | None,
    received_to: datetime | None,
) -> Select[LicencePayload, BatchPayload, LicenceDataBatch, Mail]:
    latest = _latest_link()
    query = (
        select(LicencePayload, BatchPayload, LicenceDataBatch, Mail)
        .outerjoin(latest, latest.c.payload_id == LicencePayload.id)
        .outerjoin(
            BatchPayload,
            (BatchPayload.payload_id == LicencePayload.id)
            & (BatchPayload.batch_id == latest.c.batch_id),
        )
        .outerjoin(LicenceDataBatch, LicenceDataBatch.id == BatchPayload.batch_id)
        .outerjoin(Mail, Mail.id == LicenceDataBatch.mail_id)
        .where(*_between(LicencePayload.received_at, received_from, received_to))
        .order_by(LicencePayload.received_at.desc(), LicencePayload.id.desc())
    )
    if state == "waiting":
        query = query.where(payload_waiting())
    elif state == "skipped":
        query = query.where(payload_skipped())
    elif state == "batched":
        query = query.where(LicencePayload.is_processed, BatchPayload.outcome.is_(None))
    elif state in ("accepted", "rejected"):
        query = query.where(BatchPayload.outcome == state)
    elif state == "icms_refused":
        query = query.join(IcmsCallback, IcmsCallback.mail_id == Mail.id).where(
            IcmsCallback.refused_ids.has_key(cast(LicencePayload.icms_id, Text))
        )
    return query


@dataclass(frozen=True)
class PayloadBatch:
    link: BatchPayload
    batch: LicenceDataBatch
    mail: Mail
    events: Sequence[MailEvent]
    callback: IcmsCallback | None


async def payload_batches(session: AsyncSession, payload_id: int) -> list[PayloadBatch]:
    """Every batch that carried the payload, oldest first, with its mail's whole history."""
    rows = await session.execute(
        select(BatchPayload, LicenceDataBatch, Mail)
        .join(LicenceDataBatch, LicenceDataBatch.id == BatchPayload.batch_id)
        .join(Mail, Mail.id == LicenceDataBatch.mail_id)
        .where(BatchPayload.payload_id == payload_id)
        .order_by(LicenceDataBatch.id)
    )
    result = []
    for link, batch, mail in rows:
        callback = await session.scalar(select(IcmsCallback).where(IcmsCallback.mail_id == mail.id))
        events = await mail_events(session, mail.id)
        result.append(PayloadBatch(link, batch, mail, events, callback))
    return result


def received_emails_query(*, flagged: bool | None) -> Select[ReceivedEmail]:
    query = select(ReceivedEmail).order_by(ReceivedEmail.id.desc())
    if flagged is True:
        query = query.where(ReceivedEmail.flag.is_not(None))
    elif flagged is False:
        query = query.where(ReceivedEmail.flag.is_(None))
    return query
