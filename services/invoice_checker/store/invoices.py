"""Invoices: one per parent project per calendar month, with the stats the checks read."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from invoice_checker.store.base import Base
from invoice_checker.store.directory import Project


class Invoice(Base):
    """Versioned: state changes and comments go to the history table."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("date", "project_guid"),
        CheckConstraint("extract(day from date) = 1", name="first_of_month"),
        CheckConstraint("invoice_state IN ('C', 'A', 'P', 'S')", name="state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    # Always the 1st of the month. Its own index, besides the (date, project_guid) one: the
    # invoice list counts a month's invoices on every request, and the narrow index is read in
    # a fraction of the time.
    date: Mapped[date] = mapped_column(Date, index=True)
    project_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.guid", ondelete="CASCADE"), index=True
    )
    invoice_state: Mapped[str] = mapped_column(String(1), server_default=text("'C'"))
    is_approved: Mapped[bool] = mapped_column(server_default=text("false"))
    has_comments: Mapped[bool] = mapped_column(server_default=text("false"))
    incorrect_entries_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    billable_incorrect_price_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    non_billable_hours_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    non_phase_specific_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    not_approved_hours_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    no_category_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    empty_descriptions_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    total_entries: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    bill_rate_avg: Mapped[float] = mapped_column(Float, server_default=text("0"))
    incurred_hours: Mapped[float] = mapped_column(Float, server_default=text("0"))
    incurred_billable_hours: Mapped[float] = mapped_column(Float, server_default=text("0"))
    billable_percentage: Mapped[float] = mapped_column(Float, server_default=text("0"))
    incurred_money: Mapped[float] = mapped_column(Float, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    stats_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)

    @property
    def month(self) -> str:
        return self.date.strftime("%Y-%m")
