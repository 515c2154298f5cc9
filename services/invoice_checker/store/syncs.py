"""Bookkeeping: sync runs (the original's DataUpdate) and the audit log of events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base

SYNC_KINDS = ("users", "projects", "leave-types", "holidays", "hours")
SYNC_STATUSES = ("queued", "running", "succeeded", "failed")


class SyncRun(Base):
    """One requested sync, from the API, the CLI or the schedule, and how it went."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        CheckConstraint(f"kind IN {SYNC_KINDS}", name="kind"),
        CheckConstraint(f"status IN {SYNC_STATUSES}", name="status"),
        CheckConstraint("start_date IS NULL OR end_date >= start_date", name="range"),
        # The sweeper's question: which runs are still waiting?
        Index("ix_sync_runs_queued", "created_at", postgresql_where=text("status = 'queued'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    force: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'queued'"))
    requested_by: Mapped[str] = mapped_column(String(255), server_default=text("'system'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    days_total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    days_done: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    added: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    deleted: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    unchanged_days: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    skipped_entries: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def progress(self) -> float:
        if self.status == "succeeded":
            return 1.0
        return self.days_done / self.days_total if self.days_total else 0.0


class Event(Base):
    """The audit log: one row per sync or notification run, failures included."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_timestamp", "timestamp"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(50))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
