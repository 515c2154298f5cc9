"""AWS linked accounts, their links to projects and people, and the imported billing rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    all_,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.domain.aws_billing import BillingRow
from invoice_checker.store.base import Base
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.invoices import Invoice

# The billing-row fields stored as they are (the account name goes to the account).
ROW_FIELDS = [f for f in fields(BillingRow) if f.name != "linked_account_name"]


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


@dataclass(frozen=True)
class BillingImport:
    rows: int
    deleted: int
    accounts: int
    invoices_created: int


async def store_billing_month(
    session: AsyncSession, month: date, rows: Sequence[BillingRow]
) -> BillingImport:
    """Make the month's stored rows exactly the file's rows; idempotent, in the caller's
    transaction. Accounts are upserted by id and every project linked to an account in the
    file gets its invoice for the month (created when missing)."""
    accounts = {row.linked_account_id: row.linked_account_name for row in rows}
    if accounts:
        statement = insert(AmazonLinkedAccount).values(
            [{"linked_account_id": key, "name": name} for key, name in accounts.items()]
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[AmazonLinkedAccount.linked_account_id],
                set_={"name": statement.excluded.name},
            )
        )
    created = await ensure_invoices(session, month, list(accounts))
    for start in range(0, len(rows), UPSERT_BATCH):
        await _upsert_rows(session, rows[start : start + UPSERT_BATCH])
    deleted = await session.execute(
        delete(AmazonInvoiceRow).where(
            AmazonInvoiceRow.invoice_month == month,
            # One array parameter, however long the file (an IN list has a parameter limit).
            AmazonInvoiceRow.record_id
            != all_(bindparam("keep", [row.record_id for row in rows], type_=ARRAY(String))),
        )
    )
    return BillingImport(
        rows=len(rows),
        deleted=int(getattr(deleted, "rowcount", 0) or 0),
        accounts=len(accounts),
        invoices_created=created,
    )


# Rows per INSERT statement; keeps each statement under PostgreSQL's 32767 parameters.
UPSERT_BATCH = 1000


async def _upsert_rows(session: AsyncSession, rows: Sequence[BillingRow]) -> None:
    if not rows:
        return
    statement = insert(AmazonInvoiceRow).values(
        [{f.name: getattr(row, f.name) for f in ROW_FIELDS} for row in rows]
    )
    updated = {f.name: statement.excluded[f.name] for f in ROW_FIELDS if f.name != "record_id"}
    await session.execute(
        statement.on_conflict_do_update(index_elements=[AmazonInvoiceRow.record_id], set_=updated)
    )


async def ensure_invoices(session: AsyncSession, month: date, account_ids: list[str]) -> int:
    if not account_ids:
        return 0
    projects = (
        select(ProjectAmazonAccount.project_guid)
        .where(ProjectAmazonAccount.linked_account_id.in_(account_ids))
        .distinct()
    )
    guids = list((await session.execute(projects)).scalars())
    if not guids:
        return 0
    result = await session.execute(
        insert(Invoice)
        .values([{"date": month, "project_guid": guid} for guid in guids])
        .on_conflict_do_nothing(index_elements=[Invoice.date, Invoice.project_guid])
        .returning(Invoice.id)
    )
    return len(result.all())


async def invoices_of_month(session: AsyncSession, month: date) -> list[tuple[uuid.UUID, date]]:
    """(project, month) of every invoice of the month, for checks and tests."""
    rows = await session.execute(
        select(Invoice.project_guid, Invoice.date).where(Invoice.date == month)
    )
    return [(row[0], row[1]) for row in rows]


async def link_users_by_name(session: AsyncSession) -> int:
    """Link each person to the AWS account named exactly "{first} {last}", when exactly one
    account has that name; links already there stay. Returns how many links were added."""
    unique_names = (
        select(AmazonLinkedAccount.name)
        .group_by(AmazonLinkedAccount.name)
        .having(func.count() == 1)
        .scalar_subquery()
    )
    full_name = TenkfeetUser.first_name + " " + TenkfeetUser.last_name
    matches = select(TenkfeetUser.guid, AmazonLinkedAccount.linked_account_id).join(
        AmazonLinkedAccount,
        (AmazonLinkedAccount.name == full_name) & AmazonLinkedAccount.name.in_(unique_names),
    )
    result = await session.execute(
        insert(UserAmazonAccount)
        .from_select(["user_guid", "linked_account_id"], matches)
        .on_conflict_do_nothing()
        .returning(UserAmazonAccount.user_guid)
    )
    return len(result.all())
