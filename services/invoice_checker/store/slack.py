"""Slack channels (synced) and the record of notification batches already sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base

# Notification kinds; each is sent at most once per period (see SlackNotificationBundle).
UNSUBMITTED = "unsubmitted"
UNAPPROVED = "unapproved"
FLEX_SALDO = "flex_saldo"
CONTRACT_CHECK = "contract_check"


class SlackChannel(Base):
    __tablename__ = "slack_channels"

    channel_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    archived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Set by an admin: the channel gets a message when a new project appears.
    new_project_notification: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class SlackNotificationBundle(Base):
    """One batch of notifications. Unique per kind and period, so a scheduled batch that runs
    twice (two workers, a retry) sends once: the second insert waits for the first and skips."""

    __tablename__ = "slack_notification_bundles"
    __table_args__ = (UniqueConstraint("notification_type", "period"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notification_type: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(40))  # e.g. "2018-02-05..2018-04-01" or "2018-03"
    messages: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
