"""The checking workflow's tables: checklist comments, fixed rows, tags, per-currency totals."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base


class InvoiceComment(Base):
    """One submission of an invoice's check form. Append-only: the newest one is the state."""

    __tablename__ = "invoice_comments"
    __table_args__ = (Index("ix_invoice_comments_invoice_newest", "invoice_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user: Mapped[str] = mapped_column(String(255))  # the submitter's e-mail
    comments: Mapped[str | None] = mapped_column(Text)
    checked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    checked_non_billable_ok: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    checked_bill_rates_ok: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    checked_phases_ok: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    checked_no_category_ok: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    checked_changes_last_month: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    invoice_number: Mapped[str | None] = mapped_column(String(100))
    invoice_sent_to_customer: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class ProjectFixedRow(Base):
    """A fixed invoice row of a project (a monthly fee, a discount): on every open invoice."""

    __tablename__ = "project_fixed_rows"
    __table_args__ = (UniqueConstraint("project_guid", "description"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.guid", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(300))
    price: Mapped[float] = mapped_column(Float)  # negative for discounts
    currency: Mapped[str] = mapped_column(String(3), server_default=text("'EUR'"))


class InvoiceFixedRow(Base):
    """A fixed row of one invoice: added by hand, or a frozen copy of a project row made when
    the invoice entered Preview/Sent (`frozen`), dropped again when it leaves those states."""

    __tablename__ = "invoice_fixed_rows"
    __table_args__ = (UniqueConstraint("invoice_id", "description"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(300))
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3), server_default=text("'EUR'"))
    frozen: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class InvoiceTag(Base):
    """A free label on an invoice ("disputed", "waiting-for-po") to filter the list by."""

    __tablename__ = "invoice_tags"

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)


class InvoiceCurrencyTotal(Base):
    """An invoice's money per currency (hours, fixed rows and AWS), kept apart (bug 15.4).
    Written only by `refresh_invoice_stats`."""

    __tablename__ = "invoice_currency_totals"

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[float] = mapped_column(Float)


__all__ = [
    "InvoiceComment",
    "InvoiceCurrencyTotal",
    "InvoiceFixedRow",
    "InvoiceTag",
    "ProjectFixedRow",
]
