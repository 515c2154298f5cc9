"""AWS linked accounts, their links to projects and people, and the imported billing rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base


class AmazonLinkedAccount(Base):
    __tablename__ = "amazon_linked_accounts"

    linked_account_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))


class ProjectAmazonAccount(Base):
    """AWS costs of a linked account are billed on the project's invoices."""

    __tablename__ = "project_amazon_accounts"

    project_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.guid", ondelete="CASCADE"), primary_key=True
    )
    linked_account_id: Mapped[str] = mapped_column(
        ForeignKey("amazon_linked_accounts.linked_account_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )


class UserAmazonAccount(Base):
    """A person's own AWS account (linked by hand, or by name with `link_aws_users`)."""

    __tablename__ = "user_amazon_accounts"

    user_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenkfeet_users.guid", ondelete="CASCADE"), primary_key=True
    )
    linked_account_id: Mapped[str] = mapped_column(
        ForeignKey("amazon_linked_accounts.linked_account_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )


class AmazonInvoiceRow(Base):
    """One row of the monthly AWS billing CSV. `record_id` = CSV RecordID + "YYYY-MM-01"."""

    __tablename__ = "amazon_invoice_rows"
    __table_args__ = (Index("ix_amazon_invoice_rows_month", "invoice_month", "linked_account_id"),)

    record_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    invoice_month: Mapped[date] = mapped_column(Date)  # 1st of the month
    linked_account_id: Mapped[str] = mapped_column(
        ForeignKey("amazon_linked_accounts.linked_account_id", ondelete="CASCADE")
    )
    record_type: Mapped[str] = mapped_column(String(50))
    billing_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    billing_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    invoice_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    usage_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    usage_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    product_code: Mapped[str] = mapped_column(String(255))
    usage_type: Mapped[str] = mapped_column(String(255))
    item_description: Mapped[str] = mapped_column(String(1000))
    usage_quantity: Mapped[float | None] = mapped_column(Float)
    total_cost: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
