"""The queries behind /healthcheck/: is anything stuck longer than it should be?"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.mail_state import MailStatus
from licence_gateway.store.mail import Mail
from licence_gateway.store.payloads import LicencePayload, payload_waiting


async def database_answers(session: AsyncSession) -> None:
    """Raises unless PostgreSQL answers a query on our own schema."""
    await session.execute(select(LicencePayload.id).limit(1))


async def payload_waiting_since(session: AsyncSession, cutoff: datetime) -> bool:
    """Is a payload received before `cutoff` still unsent? (Skipped ones wait on purpose.)

    The original compared `received_at <= now + interval`, so any queued payload failed it.
    """
    waiting = exists().where(payload_waiting(), LicencePayload.received_at < cutoff)
    return bool(await session.scalar(select(waiting)))


async def mail_awaiting_reply_since(session: AsyncSession, cutoff: datetime) -> bool:
    """Is a mail sent before `cutoff` still without a processed reply?"""
    overdue = exists().where(Mail.status != MailStatus.REPLY_PROCESSED, Mail.sent_at <= cutoff)
    return bool(await session.scalar(select(overdue)))
