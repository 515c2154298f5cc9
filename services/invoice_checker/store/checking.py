"""The checking workflow's writes and the invoice page's reads.

Every change that moves money (a comment that freezes or unfreezes fixed rows, a fixed-row edit)
ends with `refresh_invoice_stats`, the one recomputation, in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.invoice_state import (
    InvoiceState,
    derive_state,
    fixed_rows_change,
    normalise_invoice_number,
)
from invoice_checker.domain.scopes import Scope
from invoice_checker.domain.stats import AwsRow, FixedRow
from invoice_checker.store.history import (
    HistoryRecord,
    changed_fields,
    record_history,
    update_with_history,
)
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoice_stats import AWS_ROW_MATCH, refresh_invoice_stats
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.scopes import project_visible
from invoice_checker.store.workflow import (
    InvoiceComment,
    InvoiceCurrencyTotal,
    InvoiceFixedRow,
    InvoiceTag,
    ProjectFixedRow,
)
from service_kit.db import AnySelect, autocommit_connection

CHECK_FIELDS = (
    "checked",
    "checked_non_billable_ok",
    "checked_bill_rates_ok",
    "checked_phases_ok",
    "checked_no_category_ok",
    "checked_changes_last_month",
)


class FrozenRows(Exception):
    """The invoice is invoiced (Preview/Sent): its fixed rows may not change."""


class DuplicateRow(Exception):
    """The invoice or project has a fixed row with this description already."""


class InvoicingForbidden(Exception):
    """The submission sets or clears the invoice number or sent flag without finance's right."""


async def get_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice | None:
    # populate_existing: the stats refresh updates rows in SQL, behind the identity map's back.
    return await session.get(Invoice, invoice_id, populate_existing=True)


def _counted(statement: AnySelect, invoice_id: uuid.UUID) -> AnySelect:
    """The entries an invoice counts (spec 2.2), in the original's order (date, user)."""
    return statement.where(
        HourEntry.invoice_id == invoice_id,
        HourEntry.status != EntryStatus.UNSUBMITTED,
        HourEntry.incurred_hours > 0,
    ).order_by(HourEntry.date, HourEntry.user_id, HourEntry.id)


async def counted_entries(session: AsyncSession, invoice_id: uuid.UUID) -> list[HourEntry]:
    rows = await session.execute(_counted(select(HourEntry), invoice_id))
    return list(rows.scalars())


# What an hour export reads of each counted entry (hour_exports.ExportEntry).
EXPORT_COLUMNS = (
    HourEntry.date,
    HourEntry.user_name,
    HourEntry.user_email,
    HourEntry.bill_rate,
    HourEntry.incurred_hours,
    HourEntry.incurred_money,
    HourEntry.phase_name,
    HourEntry.category,
    HourEntry.notes,
    HourEntry.leave_type,
    HourEntry.calculated_is_billable,
)


async def counted_export_chunks(
    session: AsyncSession, invoice_id: uuid.UUID, size: int = 500
) -> AsyncIterator[Sequence[Row[Any]]]:
    """The counted entries' export columns, `size` rows at a time from a server-side cursor:
    thousands of entries never load in one go on the event loop (no ORM objects either)."""
    statement = _counted(select(*EXPORT_COLUMNS), invoice_id).execution_options(yield_per=size)
    result = await session.stream(statement)
    async for chunk in result.partitions(size):
        yield chunk


class CheckedEntry(NamedTuple):
    """What checking an invoice reads of each counted entry (the stats' EntryFacts, the leave
    masking and the entry tables): a plain tuple, read far faster than an ORM object or a
    SQLAlchemy Row when an invoice has thousands of entries."""

    id: int
    upstream_id: int
    date: date
    user_email: str
    user_name: str
    incurred_hours: float
    incurred_money: float
    bill_rate: float
    phase_name: str
    category: str
    notes: str | None
    status: str
    leave_type: str
    calculated_is_billable: bool
    calculated_has_notes: bool
    calculated_has_phase: bool
    calculated_is_approved: bool
    calculated_has_proper_price: bool
    calculated_has_category: bool


CHECKED_COLUMNS = tuple(HourEntry.__table__.c[name] for name in CheckedEntry._fields)


async def counted_entry_rows(session: AsyncSession, invoice_id: uuid.UUID) -> list[CheckedEntry]:
    """`counted_entries` as read-only CheckedEntry tuples (the invoice page and its API)."""
    connection = await autocommit_connection(session)
    # Straight through the driver: SQLAlchemy's result rows cost twice asyncpg's own fetch for
    # thousands of entries (the statement is still built and compiled by SQLAlchemy).
    compiled = _counted(select(*CHECKED_COLUMNS), invoice_id).compile(dialect=connection.dialect)
    values = compiled.construct_params()
    arguments = [values[name] for name in compiled.positiontup or ()]
    driver: Any = (await connection.get_raw_connection()).driver_connection
    records = await driver.fetch(compiled.string, *arguments)
    return [CheckedEntry(*record) for record in records]


async def comments_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceComment]:
    rows = await session.execute(
        select(InvoiceComment)
        .where(InvoiceComment.invoice_id == invoice_id)
        .order_by(InvoiceComment.id.desc())
    )
    return list(rows.scalars())


async def latest_comment(session: AsyncSession, invoice_id: uuid.UUID) -> InvoiceComment | None:
    rows = await session.execute(
        select(InvoiceComment)
        .where(InvoiceComment.invoice_id == invoice_id)
        .order_by(InvoiceComment.id.desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class CommentInput:
    comments: str | None = None
    checked: bool = False
    checked_non_billable_ok: bool = False
    checked_bill_rates_ok: bool = False
    checked_phases_ok: bool = False
    checked_no_category_ok: bool = False
    checked_changes_last_month: bool = False
    invoice_number: str | None = None
    invoice_sent_to_customer: bool = False


async def add_comment(
    session: AsyncSession,
    invoice: Invoice,
    given: CommentInput,
    *,
    actor: str,
    may_change_invoicing: bool,
) -> InvoiceComment:
    """Append a checklist submission; the invoice's state follows this comment alone.

    Without `may_change_invoicing` the submission must carry the current invoice number and
    sent flag (`InvoicingForbidden` otherwise)."""
    # Lock the invoice: two submissions at once must not both freeze (or unfreeze) its rows,
    # and the finance-only fields are compared with the latest comment only under the lock: a
    # check made before it let a team lead's comment wipe a number finance saved meanwhile.
    await session.refresh(invoice, with_for_update=True)
    number = normalise_invoice_number(given.invoice_number)
    if not may_change_invoicing:
        latest = await latest_comment(session, invoice.id)
        current = (latest.invoice_number, latest.invoice_sent_to_customer) if latest else None
        if (number, given.invoice_sent_to_customer) != (current or (None, False)):
            raise InvoicingForbidden
    comment = InvoiceComment(
        invoice_id=invoice.id,
        created_at=datetime.now(UTC),
        user=actor,
        comments=given.comments,
        invoice_number=number,
        invoice_sent_to_customer=given.invoice_sent_to_customer,
        **{name: getattr(given, name) for name in CHECK_FIELDS},
    )
    session.add(comment)
    await session.flush()
    await record_history(session, comment, _comment_changes(comment), actor)

    old_state = InvoiceState(invoice.invoice_state)
    new_state = derive_state(
        checked=given.checked, invoice_number=number, sent=given.invoice_sent_to_customer
    )
    change = fixed_rows_change(old_state, new_state)
    if change == "freeze":
        await _freeze_fixed_rows(session, invoice, actor)
    elif change == "unfreeze":
        await _drop_frozen_rows(session, invoice, actor)
    invoice_changes = {
        "invoice_state": new_state.value,
        "is_approved": given.checked,
        "has_comments": bool(given.comments),
    }
    await update_with_history(session, invoice, invoice_changes, actor)
    if change is not None:
        await refresh_invoice_stats(session, invoice_ids=[invoice.id])
    return comment


def _comment_changes(comment: InvoiceComment) -> dict[str, Any]:
    names = ("comments", *CHECK_FIELDS, "invoice_number", "invoice_sent_to_customer")
    return {name: getattr(comment, name) for name in names}


async def _freeze_fixed_rows(session: AsyncSession, invoice: Invoice, actor: str) -> None:
    """Copy the project's rows onto the invoice; a row of the invoice's own wins by name."""
    own = set(
        (
            await session.execute(
                select(InvoiceFixedRow.description).where(InvoiceFixedRow.invoice_id == invoice.id)
            )
        ).scalars()
    )
    copies = [
        InvoiceFixedRow(
            invoice_id=invoice.id,
            description=row.description,
            price=row.price,
            currency=row.currency,
            frozen=True,
        )
        for row in await project_fixed_rows(session, invoice.project_guid)
        if row.description not in own
    ]
    session.add_all(copies)
    await session.flush()
    for copy in copies:
        await record_history(session, copy, {**_row_changes(copy), "frozen": True}, actor)


async def _drop_frozen_rows(session: AsyncSession, invoice: Invoice, actor: str) -> None:
    """Leaving Preview/Sent: the invoice follows its project's rows again."""
    frozen = [row for row in await invoice_fixed_rows(session, invoice.id) if row.frozen]
    for row in frozen:
        await record_history(session, row, {"deleted": True, **_owner(row)}, actor)
        await session.delete(row)
    await session.flush()


async def project_fixed_rows(
    session: AsyncSession, project_guid: uuid.UUID
) -> list[ProjectFixedRow]:
    rows = await session.execute(
        select(ProjectFixedRow)
        .where(ProjectFixedRow.project_guid == project_guid)
        .order_by(ProjectFixedRow.description)
    )
    return list(rows.scalars())


async def invoice_fixed_rows(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceFixedRow]:
    rows = await session.execute(
        select(InvoiceFixedRow)
        .where(InvoiceFixedRow.invoice_id == invoice_id)
        .order_by(InvoiceFixedRow.description)
    )
    return list(rows.scalars())


async def shown_fixed_rows(session: AsyncSession, invoice: Invoice) -> list[FixedRow]:
    """What the invoice bills (spec 2.4): its own rows, plus the project's while not invoiced."""
    rows: list[InvoiceFixedRow | ProjectFixedRow] = list(
        await invoice_fixed_rows(session, invoice.id)
    )
    if not InvoiceState(invoice.invoice_state).invoiced:
        rows += await project_fixed_rows(session, invoice.project_guid)
    shown = [FixedRow(row.description, row.price, row.currency) for row in rows]
    return sorted(shown, key=lambda row: row.description)


_AWS_DETAIL_SQL = f"""
SELECT DISTINCT ON (a.linked_account_id)
    a.linked_account_id, acc.name, coalesce(r.total_cost, 0), coalesce(r.currency, 'USD')
FROM invoice_checker.project_amazon_accounts a
JOIN invoice_checker.amazon_linked_accounts acc ON acc.linked_account_id = a.linked_account_id
LEFT JOIN invoice_checker.amazon_invoice_rows r
    ON {AWS_ROW_MATCH.format(month="CAST(:month AS date)")}
WHERE a.project_guid = :project
ORDER BY a.linked_account_id, r.record_id
"""  # nosec B608 # constant SQL fragments only; values are bound


async def aws_rows(session: AsyncSession, invoice: Invoice) -> list[AwsRow]:
    """The AWS rows the invoice shows, matched as the stats refresh matches them (spec 2.5)."""
    rows = await session.execute(
        text(_AWS_DETAIL_SQL), {"month": invoice.date, "project": invoice.project_guid}
    )
    return [AwsRow(account, name, cost, currency) for account, name, cost, currency in rows]


async def currency_totals(
    session: AsyncSession, invoice_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, float]]:
    """Each invoice's money per currency, as the last refresh stored it."""
    totals: dict[uuid.UUID, dict[str, float]] = {invoice_id: {} for invoice_id in invoice_ids}
    if not invoice_ids:
        return totals
    rows = await session.execute(
        select(InvoiceCurrencyTotal).where(InvoiceCurrencyTotal.invoice_id.in_(invoice_ids))
    )
    for row in rows.scalars():
        totals[row.invoice_id][row.currency] = row.amount
    return totals


async def previous_invoice(session: AsyncSession, invoice: Invoice) -> Invoice | None:
    first = invoice.date
    previous_month = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    rows = await session.execute(
        select(Invoice)
        .where(Invoice.project_guid == invoice.project_guid, Invoice.date == previous_month)
        .execution_options(populate_existing=True)
    )
    return rows.scalar_one_or_none()


async def history_of(session: AsyncSession, invoice: Invoice) -> list[HistoryRecord]:
    """The invoice's own history and that of its comments and fixed rows, newest first."""
    comment_ids = select(func.cast(InvoiceComment.id, HistoryRecord.entity_id.type)).where(
        InvoiceComment.invoice_id == invoice.id
    )
    rows = await session.execute(
        select(HistoryRecord)
        .where(
            or_(
                (HistoryRecord.entity_type == Invoice.__tablename__)
                & (HistoryRecord.entity_id == str(invoice.id)),
                (HistoryRecord.entity_type == InvoiceComment.__tablename__)
                & HistoryRecord.entity_id.in_(comment_ids),
                (HistoryRecord.entity_type == InvoiceFixedRow.__tablename__)
                & (HistoryRecord.changes["invoice_id"].astext == str(invoice.id)),
            )
        )
        .order_by(HistoryRecord.id.desc())
    )
    return list(rows.scalars())


# Fixed rows -----------------------------------------------------------------------------------


async def add_fixed_row(
    session: AsyncSession,
    row: InvoiceFixedRow | ProjectFixedRow,
    *,
    actor: str,
) -> None:
    if isinstance(row, InvoiceFixedRow):
        await _ensure_editable(session, row.invoice_id)
    await _ensure_unique(session, row, row.description)
    session.add(row)
    await session.flush()
    await record_history(session, row, _row_changes(row), actor)
    await _refresh_for(session, row)


async def update_fixed_row(
    session: AsyncSession,
    row: InvoiceFixedRow | ProjectFixedRow,
    values: Mapping[str, Any],
    *,
    actor: str,
) -> None:
    if isinstance(row, InvoiceFixedRow):
        await _ensure_editable(session, row.invoice_id)
    changed = changed_fields(row, values)
    if "description" in changed:
        await _ensure_unique(session, row, changed["description"])
    for name, value in changed.items():
        setattr(row, name, value)
    await session.flush()
    if changed:
        await record_history(session, row, {**changed, **_owner(row)}, actor)
        await _refresh_for(session, row)


async def delete_fixed_row(
    session: AsyncSession, row: InvoiceFixedRow | ProjectFixedRow, *, actor: str
) -> None:
    if isinstance(row, InvoiceFixedRow):
        await _ensure_editable(session, row.invoice_id)
    await record_history(session, row, {"deleted": True, **_owner(row)}, actor)
    await session.delete(row)
    await session.flush()
    await _refresh_for(session, row)


def _owner(row: InvoiceFixedRow | ProjectFixedRow) -> dict[str, str]:
    if isinstance(row, InvoiceFixedRow):
        return {"invoice_id": str(row.invoice_id)}
    return {"project_guid": str(row.project_guid)}


def _row_changes(row: InvoiceFixedRow | ProjectFixedRow) -> dict[str, Any]:
    return {
        "description": row.description,
        "price": row.price,
        "currency": row.currency,
        **_owner(row),
    }


async def _ensure_unique(
    session: AsyncSession, row: InvoiceFixedRow | ProjectFixedRow, description: str
) -> None:
    if isinstance(row, InvoiceFixedRow):
        query = select(InvoiceFixedRow.id).where(
            InvoiceFixedRow.invoice_id == row.invoice_id,
            InvoiceFixedRow.description == description,
        )
    else:
        query = select(ProjectFixedRow.id).where(
            ProjectFixedRow.project_guid == row.project_guid,
            ProjectFixedRow.description == description,
        )
    if (await session.execute(query.limit(1))).first() is not None:
        raise DuplicateRow


async def _ensure_editable(session: AsyncSession, invoice_id: uuid.UUID) -> None:
    # Locked, so a comment cannot freeze the rows between this check and the edit.
    invoice = await session.get_one(
        Invoice, invoice_id, with_for_update=True, populate_existing=True
    )
    if InvoiceState(invoice.invoice_state).invoiced:
        raise FrozenRows


async def _refresh_for(session: AsyncSession, row: InvoiceFixedRow | ProjectFixedRow) -> None:
    if isinstance(row, InvoiceFixedRow):
        await refresh_invoice_stats(session, invoice_ids=[row.invoice_id])
        return
    ids = (
        await session.execute(select(Invoice.id).where(Invoice.project_guid == row.project_guid))
    ).scalars()
    await refresh_invoice_stats(session, invoice_ids=list(ids))


# Tags -----------------------------------------------------------------------------------------


async def tags_of(
    session: AsyncSession, invoice_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    tags: dict[uuid.UUID, list[str]] = {invoice_id: [] for invoice_id in invoice_ids}
    if invoice_ids:
        rows = await session.execute(
            select(InvoiceTag.invoice_id, InvoiceTag.tag)
            .where(InvoiceTag.invoice_id.in_(invoice_ids))
            .order_by(InvoiceTag.tag)
        )
        for invoice_id, tag in rows:
            tags[invoice_id].append(tag)
    return tags


async def add_tag(session: AsyncSession, invoice: Invoice, tag: str, *, actor: str) -> None:
    if await session.get(InvoiceTag, (invoice.id, tag)) is None:
        session.add(InvoiceTag(invoice_id=invoice.id, tag=tag))
        await session.flush()
        await record_history(session, invoice, {"tag_added": tag}, actor)


async def remove_tag(session: AsyncSession, invoice: Invoice, tag: str, *, actor: str) -> bool:
    found = await session.get(InvoiceTag, (invoice.id, tag))
    if found is None:
        return False
    await session.delete(found)
    await record_history(session, invoice, {"tag_removed": tag}, actor)
    await session.flush()
    return True


async def all_tags(session: AsyncSession, scope: Scope) -> list[tuple[str, int]]:
    """Tags of the invoices `scope` reaches, with how many of them carry each."""
    rows = await session.execute(
        select(InvoiceTag.tag, func.count())
        .join(Invoice, Invoice.id == InvoiceTag.invoice_id)
        .where(project_visible(scope, Invoice.project_guid))
        .group_by(InvoiceTag.tag)
        .order_by(InvoiceTag.tag)
    )
    return [(tag, count) for tag, count in rows]
