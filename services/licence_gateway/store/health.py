"""The queries behind /healthcheck/: is anything stuck longer than it should be?"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.mail_state import MailStatus
from licence_gateway.store.mail import IcmsCallback, Mail, ReceivedEmail
from licence_gateway.store.payloads import LicencePayload


async def database_answers(session: AsyncSession) -> None:
    """Raises unless PostgreSQL answers a query on our own schema."""
    await session.execute(select(LicencePayload.id).limit(1))


async def payload_waiting_since(session: AsyncSession, cutoff: datetime) -> bool:
    """Is a payload received before `cutoff` still unsent? (Skipped ones wait on purpose.)

    The original compared `received_at <= now + interval`, so any queued payload failed it.
    """
    waiting = exists().where(
        LicencePayload.is_processed.is_(False),
        LicencePayload.skip_process.is_(False),
        LicencePayload.received_at < cutoff,
    )
    return bool(await session.scalar(select(waiting)))


async def mail_awaiting_reply_since(session: AsyncSession, cutoff: datetime) -> bool:
    """Is a mail sent before `cutoff` still without a processed reply?"""
    overdue = exists().where(Mail.status != MailStatus.REPLY_PROCESSED, Mail.sent_at <= cutoff)
    return bool(await session.scalar(select(overdue)))


async def parked_licences(session: AsyncSession) -> int:
    """How many licence outcomes ICMS refused and that wait for `licence-gateway redeliver`."""
    parked = await session.scalars(
        select(IcmsCallback.refused_ids).where(IcmsCallback.refused_ids != text("'{}'::jsonb"))
    )
    return sum(map(len, parked))


async def flagged_replies(session: AsyncSession) -> dict[str, int]:
    """HMRC e-mails stored but not applied, by flag (second_reply, sender_not_verified, ...)."""
    rows = await session.execute(
        select(ReceivedEmail.flag, func.count())
        .where(ReceivedEmail.flag.is_not(None))
        .group_by(ReceivedEmail.flag)
    )
    return {str(flag): count for flag, count in rows.all()}
