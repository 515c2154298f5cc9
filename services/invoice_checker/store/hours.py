"""Hour entries copied from 10000ft time entries, and the per-day checksums that let a sync skip
days that did not change."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base

Day = date  # `date` is also a column name below


class HourEntry(Base):
    """One 10000ft time entry (project work or leave), with the flags the invoice checks read.

    Upserted by `upstream_id`, so its `id` is stable across syncs. The text columns (user, client,
    project, phase) are copies taken at sync time, as in the original.

    Its invoice and user are kept by statement-level triggers (migration ic0008), as foreign keys
    would keep them (on delete: the invoice's entries go, the user's lose their user): a sync
    COPYs hundreds of thousands of rows, and a row-level key check per row and key cost the COPY
    nearly as much as the rows.
    """

    __tablename__ = "hour_entries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    upstream_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    last_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_guid: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[int] = mapped_column(Integer)
    user_email: Mapped[str | None] = mapped_column(String(255))
    user_name: Mapped[str | None] = mapped_column(String(100))
    client: Mapped[str] = mapped_column(String(200))
    project: Mapped[str] = mapped_column(String(200))
    incurred_hours: Mapped[float] = mapped_column(Float)
    incurred_money: Mapped[float] = mapped_column(Float)
    bill_rate: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(String(1000))
    entry_type: Mapped[str] = mapped_column(String(100))
    discipline: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(100))
    leave_type: Mapped[str] = mapped_column(String(100))
    phase_name: Mapped[str] = mapped_column(String(100))
    billable: Mapped[bool] = mapped_column(Boolean)
    approved: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(30))
    assignable_id: Mapped[int | None] = mapped_column(Integer)
    approved_at: Mapped[Day | None] = mapped_column(Date)
    approved_by: Mapped[str | None] = mapped_column(String(255))
    submitted_by: Mapped[str | None] = mapped_column(String(255))
    upstream_approvable_id: Mapped[int | None] = mapped_column(BigInteger)
    upstream_approvable_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    calculated_is_billable: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    calculated_has_notes: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    calculated_has_phase: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    calculated_is_approved: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    calculated_has_proper_price: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    calculated_has_category: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    calculated_is_overtime: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class HourEntryChecksum(Base):
    """SHA-256 over one day's 10000ft time entries as last written; equal digest = skip the day."""

    __tablename__ = "hour_entry_checksums"

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
