"""The Slack outbox: one row per message of a notification batch, written with the batch's claim.

A batch is sent in two steps. First the claim (SlackNotificationBundle) and every message row are
committed together. Then each row is leased, posted and marked sent in short transactions of its
own. A run that dies or fails part-way leaves the unsent rows for the next pass; a row whose lease
is held by another worker is skipped, so two workers never post the same row at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base
from invoice_checker.store.slack import SlackNotificationBundle


class SlackOutboxMessage(Base):
    __tablename__ = "slack_outbox_messages"
    __table_args__ = (
        Index(
            "ix_slack_outbox_messages_unsent",
            "bundle_id",
            "position",
            postgresql_where=sql("sent_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("slack_notification_bundles.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)  # order within the batch
    # A channel or person id; or, for a group conversation, empty and `open_with` set.
    channel: Mapped[str] = mapped_column(String(50))
    open_with: Mapped[str | None] = mapped_column(String(500))  # comma-separated person ids
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=sql("'[]'::jsonb")
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=sql("0"))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    slack_ts: Mapped[str | None] = mapped_column(String(40))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # for good
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True)
class PlannedMessage:
    channel: str
    text: str
    attachments: Sequence[dict[str, Any]] = ()
    open_with: Sequence[str] = ()  # a group conversation with these people, opened when sent


@dataclass(frozen=True)
class LeasedMessage:
    id: int
    channel: str
    open_with: list[str]
    text: str
    attachments: list[dict[str, Any]]
    earlier_attempts: int  # > 0: an earlier attempt may have reached Slack
    created_at: datetime


@dataclass
class BatchProgress:
    sent: int = 0
    pending: int = 0
    failed: list[str] = field(default_factory=list)


async def add_messages(
    session: AsyncSession, bundle_id: int, messages: Sequence[PlannedMessage]
) -> None:
    if not messages:
        return
    await session.execute(
        insert(SlackOutboxMessage),
        [
            {
                "bundle_id": bundle_id,
                "position": position,
                "channel": message.channel,
                "open_with": ",".join(message.open_with) or None,
                "text": message.text,
                "attachments": list(message.attachments),
            }
            for position, message in enumerate(messages)
        ],
    )


def _unsent() -> Any:
    return (SlackOutboxMessage.sent_at.is_(None)) & (SlackOutboxMessage.failed_at.is_(None))


async def unsent_ids(session: AsyncSession, bundle_id: int) -> list[int]:
    rows = await session.execute(
        select(SlackOutboxMessage.id)
        .where(SlackOutboxMessage.bundle_id == bundle_id, _unsent())
        .order_by(SlackOutboxMessage.position)
    )
    return list(rows.scalars())


async def bundles_with_unsent(session: AsyncSession) -> list[int]:
    """Batches with a message that is not sent, not given up and not leased by a live sender."""
    rows = await session.execute(
        select(SlackOutboxMessage.bundle_id)
        .where(
            _unsent(),
            or_(
                SlackOutboxMessage.leased_until.is_(None),
                SlackOutboxMessage.leased_until < func.clock_timestamp(),
            ),
        )
        .distinct()
        .order_by(SlackOutboxMessage.bundle_id)
    )
    return list(rows.scalars())


async def lease(session: AsyncSession, message_id: int, seconds: float) -> LeasedMessage | None:
    """Take the message for `seconds` and count the attempt; None if it is sent, given up or
    leased by another sender. The caller commits before posting, so the attempt is on record
    even if the process dies mid-post."""
    row = (
        await session.execute(
            update(SlackOutboxMessage)
            .where(
                SlackOutboxMessage.id == message_id,
                _unsent(),
                or_(
                    SlackOutboxMessage.leased_until.is_(None),
                    SlackOutboxMessage.leased_until < func.clock_timestamp(),
                ),
            )
            .values(
                attempts=SlackOutboxMessage.attempts + 1,
                leased_until=func.clock_timestamp() + func.make_interval(0, 0, 0, 0, 0, 0, seconds),
            )
            .returning(
                SlackOutboxMessage.id,
                SlackOutboxMessage.channel,
                SlackOutboxMessage.open_with,
                SlackOutboxMessage.text,
                SlackOutboxMessage.attachments,
                SlackOutboxMessage.attempts,
                SlackOutboxMessage.created_at,
            )
        )
    ).first()
    if row is None:
        return None
    return LeasedMessage(
        id=row.id,
        channel=row.channel,
        open_with=[u for u in (row.open_with or "").split(",") if u],
        text=row.text,
        attachments=list(row.attachments or []),
        earlier_attempts=row.attempts - 1,
        created_at=row.created_at,
    )


async def mark_sent(session: AsyncSession, message_id: int, slack_ts: str) -> None:
    await session.execute(
        update(SlackOutboxMessage)
        .where(SlackOutboxMessage.id == message_id)
        .values(sent_at=func.now(), slack_ts=slack_ts, leased_until=None, last_error=None)
    )


async def release(
    session: AsyncSession, message_id: int, error: str, *, give_up: bool = False
) -> None:
    """Record why the post failed; free the message for the next pass, or give it up for good
    (Slack refused it: an unknown channel, say)."""
    await session.execute(
        update(SlackOutboxMessage)
        .where(SlackOutboxMessage.id == message_id)
        .values(
            leased_until=None,
            last_error=error[:2000],
            failed_at=func.now() if give_up else None,
        )
    )


async def batch_progress(session: AsyncSession, bundle_id: int) -> BatchProgress:
    rows = await session.execute(
        select(
            SlackOutboxMessage.sent_at,
            SlackOutboxMessage.failed_at,
            SlackOutboxMessage.channel,
            SlackOutboxMessage.open_with,
            SlackOutboxMessage.last_error,
        ).where(SlackOutboxMessage.bundle_id == bundle_id)
    )
    progress = BatchProgress()
    for row in rows:
        if row.sent_at is not None:
            progress.sent += 1
        elif row.failed_at is not None:
            progress.failed.append(f"{row.open_with or row.channel}: {row.last_error}")
        else:
            progress.pending += 1
    await session.execute(
        update(SlackNotificationBundle)
        .where(SlackNotificationBundle.id == bundle_id)
        .values(messages=progress.sent)
    )
    return progress
