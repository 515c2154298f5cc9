"""Writes of the hour sync: per-day locks and checksums, and the bulk merge of one batch of days.

A batch is one transaction: its days are locked (transaction-scoped advisory locks, taken in date
order so two syncs never deadlock), then the rows of its changed days are COPYed into a staging
table and merged: invoices created on demand, entries upserted by upstream id, entries missing
from a fetched day deleted, checksums stored. Days synced for the first time (no local entry on
them, none of their entries elsewhere) are COPYed straight into hour_entries instead. Readers
see each day either as before or as after.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.tenkfeet_mapping import HourRow
from service_kit.advisory_locks import AdvisoryLockClass

STAGE = "hour_rows_stage"
_STAGE_COLUMNS = {
    "upstream_id": "bigint",
    "date": "date",
    "project_guid": "uuid",
    "invoice_month": "date",
    "user_guid": "uuid",
    "user_id": "integer",
    "user_email": "varchar(255)",
    "user_name": "varchar(100)",
    "client": "varchar(200)",
    "project": "varchar(200)",
    "incurred_hours": "double precision",
    "incurred_money": "double precision",
    "bill_rate": "double precision",
    "category": "varchar(100)",
    "notes": "varchar(1000)",
    "entry_type": "varchar(100)",
    "discipline": "varchar(100)",
    "role": "varchar(100)",
    "leave_type": "varchar(100)",
    "phase_name": "varchar(100)",
    "billable": "boolean",
    "approved": "boolean",
    "status": "varchar(30)",
    "assignable_id": "integer",
    "approved_at": "date",
    "approved_by": "varchar(255)",
    "submitted_by": "varchar(255)",
    "upstream_approvable_id": "bigint",
    "upstream_approvable_updated_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "calculated_is_billable": "boolean",
    "calculated_has_notes": "boolean",
    "calculated_has_phase": "boolean",
    "calculated_is_approved": "boolean",
    "calculated_has_proper_price": "boolean",
    "calculated_has_category": "boolean",
    "calculated_is_overtime": "boolean",
}
if tuple(_STAGE_COLUMNS) != HourRow._fields:
    raise RuntimeError("the staging table and HourRow must list the same columns")

# Columns copied into hour_entries as they are; the rest are derived in SQL.
_ENTRY_COLUMNS = [name for name in HourRow._fields if name not in {"project_guid", "invoice_month"}]
_UPDATED_COLUMNS = [name for name in _ENTRY_COLUMNS if name != "upstream_id"] + ["invoice_id"]
# The staged values of those columns but the invoice, which the merge takes from its join.
_STAGED_UPDATES = ", ".join(f"s.{name}" for name in _UPDATED_COLUMNS if name != "invoice_id")

_CREATE_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} ("
    + ", ".join(f"{name} {sql_type}" for name, sql_type in _STAGE_COLUMNS.items())
    + ") ON COMMIT DELETE ROWS"
)

_CREATE_INVOICES = f"""
WITH created AS (
    INSERT INTO invoice_checker.invoices (date, project_guid)
    SELECT DISTINCT invoice_month, project_guid FROM {STAGE} ORDER BY 1, 2
    ON CONFLICT (date, project_guid) DO NOTHING
    RETURNING id, date, project_guid
)
INSERT INTO invoice_checker.history (entity_type, entity_id, changes, actor)
SELECT 'invoices', id::text,
       jsonb_build_object('created', true, 'date', date, 'project_guid', project_guid), 'system'
FROM created
"""  # nosec B608 # constant SQL fragments only; values are bound

# Invoices of (month, project) pairs, created when missing; answers the id of each pair. Pairs
# another transaction created after this statement began are read by `_invoice_ids` again.
_ENSURE_INVOICES = """
WITH wanted AS (
    SELECT * FROM unnest(CAST(:months AS date[]), CAST(:projects AS uuid[]))
        AS wanted (date, project_guid)
),
created AS (
    INSERT INTO invoice_checker.invoices (date, project_guid)
    SELECT date, project_guid FROM wanted ORDER BY 1, 2
    ON CONFLICT (date, project_guid) DO NOTHING
    RETURNING id, date, project_guid
),
logged AS (
    INSERT INTO invoice_checker.history (entity_type, entity_id, changes, actor)
    SELECT 'invoices', id::text,
           jsonb_build_object('created', true, 'date', date, 'project_guid', project_guid),
           'system'
    FROM created
)
SELECT id, date, project_guid FROM created
UNION ALL
SELECT i.id, i.date, i.project_guid
FROM invoice_checker.invoices i JOIN wanted w USING (date, project_guid)
"""

_ANY_LOCAL = """
SELECT EXISTS (SELECT FROM invoice_checker.hour_entries WHERE date = ANY(CAST(:days AS date[])))
    OR EXISTS (SELECT FROM invoice_checker.hour_entries
               WHERE upstream_id = ANY(CAST(:ids AS bigint[])))
"""

# Staged rows equal to their stored entry are left out before the upsert: ON CONFLICT locks (and
# writes WAL for) every conflicting row, even one its WHERE then leaves unchanged.
_MERGE_ENTRIES = f"""
WITH merged AS (
    INSERT INTO invoice_checker.hour_entries ({", ".join(_ENTRY_COLUMNS)}, invoice_id,
                                              last_updated_at)
    SELECT {", ".join(f"s.{name}" for name in _ENTRY_COLUMNS)}, i.id, CAST(:now AS timestamptz)
    FROM {STAGE} s
    JOIN invoice_checker.invoices i ON i.date = s.invoice_month AND i.project_guid = s.project_guid
    WHERE NOT EXISTS (
        SELECT FROM invoice_checker.hour_entries h
        WHERE h.upstream_id = s.upstream_id
          AND ({", ".join(f"h.{name}" for name in _UPDATED_COLUMNS)})
              IS NOT DISTINCT FROM ({_STAGED_UPDATES}, i.id)
    )
    ORDER BY s.upstream_id
    ON CONFLICT (upstream_id) DO UPDATE SET
        {", ".join(f"{name} = EXCLUDED.{name}" for name in _UPDATED_COLUMNS)},
        last_updated_at = EXCLUDED.last_updated_at
    WHERE ({", ".join(f"hour_entries.{name}" for name in _UPDATED_COLUMNS)})
          IS DISTINCT FROM ({", ".join(f"EXCLUDED.{name}" for name in _UPDATED_COLUMNS)})
    RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged
"""  # nosec B608 # constant SQL fragments only; values are bound

# Entries of a written day that the fetch no longer has are gone upstream, except those the
# sync could not map this time (kept until a later sync can).
_DELETE_MISSING = f"""
DELETE FROM invoice_checker.hour_entries h
WHERE h.date = ANY(CAST(:days AS date[]))
  AND h.upstream_id <> ALL(CAST(:keep AS bigint[]))
  AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.upstream_id = h.upstream_id)
"""  # nosec B608 # constant SQL fragments only; values are bound

_STORE_CHECKSUMS = """
INSERT INTO invoice_checker.hour_entry_checksums (date, sha256)
SELECT * FROM unnest(CAST(:days AS date[]), CAST(:digests AS varchar[]))
ON CONFLICT (date) DO UPDATE SET sha256 = EXCLUDED.sha256
"""


@dataclass(frozen=True)
class BatchResult:
    added: int
    updated: int
    deleted: int


async def lock_days(session: AsyncSession, days: Sequence[date]) -> None:
    """Wait for, then hold until commit, the lock of each day (another sync may hold some)."""
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:lock_class, d) "
            "FROM unnest(CAST(:ordinals AS integer[])) AS d ORDER BY d"
        ),
        {
            "lock_class": AdvisoryLockClass.HOUR_SYNC_DAY,
            "ordinals": sorted(day.toordinal() for day in days),
        },
    )


async def stored_digests(session: AsyncSession, days: Sequence[date]) -> dict[date, str]:
    rows = await session.execute(
        text(
            "SELECT date, sha256 FROM invoice_checker.hour_entry_checksums "
            "WHERE date = ANY(CAST(:days AS date[]))"
        ),
        {"days": list(days)},
    )
    return dict(rows.all())


async def _copy_rows(session: AsyncSession, rows: Sequence[HourRow]) -> None:
    """COPY rows into the staging table over the session's own asyncpg connection."""
    await session.execute(text(_CREATE_STAGE))
    if not rows:
        return
    connection = await session.connection()
    raw: Any = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        STAGE, records=rows, columns=list(HourRow._fields)
    )


async def _all_new(session: AsyncSession, days: Sequence[date], rows: Sequence[HourRow]) -> bool:
    """No local entry on these days, and none of these entries anywhere."""
    ids = [row.upstream_id for row in rows]
    return not await session.scalar(text(_ANY_LOCAL), {"days": list(days), "ids": ids})


async def _invoice_ids(
    session: AsyncSession, pairs: set[tuple[date, uuid.UUID]]
) -> dict[tuple[date, uuid.UUID], uuid.UUID]:
    ordered = sorted(pairs)
    params = {"months": [m for m, _ in ordered], "projects": [p for _, p in ordered]}
    found = {
        (day, project): invoice
        for invoice, day, project in await session.execute(text(_ENSURE_INVOICES), params)
    }
    if len(found) < len(pairs):  # created meanwhile by a concurrent sync: visible now
        found |= {
            (day, project): invoice
            for invoice, day, project in await session.execute(text(_ENSURE_INVOICES), params)
        }
    return found


async def _copy_new_entries(session: AsyncSession, rows: Sequence[HourRow], now: datetime) -> bool:
    """The first sync of days: COPY straight into hour_entries (no staging, no upsert). False
    when a concurrent sync wrote one of these entries meanwhile; nothing is written then."""
    invoices = await _invoice_ids(session, {(row.invoice_month, row.project_guid) for row in rows})
    records = [
        (*row[:2], *row[4:], invoices[(row.invoice_month, row.project_guid)], now) for row in rows
    ]
    connection = await session.connection()
    raw: Any = await connection.get_raw_connection()
    # A savepoint by hand: the COPY bypasses the session, which would not emit one in time.
    await session.execute(text("SAVEPOINT first_sync_copy"))
    try:
        await raw.driver_connection.copy_records_to_table(
            "hour_entries",
            schema_name="invoice_checker",
            records=records,
            columns=[*_ENTRY_COLUMNS, "invoice_id", "last_updated_at"],
        )
    except UniqueViolationError:
        await session.execute(text("ROLLBACK TO SAVEPOINT first_sync_copy"))
        return False
    await session.execute(text("RELEASE SAVEPOINT first_sync_copy"))
    return True


async def write_days(
    session: AsyncSession,
    *,
    days: Sequence[date],
    rows: Sequence[HourRow],
    digests: dict[date, str],
    keep_ids: Sequence[int] = (),
    now: datetime,
) -> BatchResult:
    """Make `days` locally equal to `rows` (every row dated in `days`); the caller holds the day
    locks and commits."""
    await _plan_for_these_values(session)
    # A first sync of these days (the common big case) skips the staging table and the upsert.
    if rows and await _all_new(session, days, rows) and await _copy_new_entries(session, rows, now):
        await _store_digests(session, digests)
        return BatchResult(len(rows), 0, 0)
    await _copy_rows(session, rows)
    added = updated = 0
    if rows:
        await session.execute(text(_CREATE_INVOICES))
        merged = (await session.execute(text(_MERGE_ENTRIES), {"now": now})).one()
        added, updated = int(merged[0]), int(merged[1])
    deleted = await session.execute(
        text(_DELETE_MISSING), {"days": list(days), "keep": list(keep_ids)}
    )
    await _store_digests(session, digests)
    return BatchResult(added, updated, int(getattr(deleted, "rowcount", 0) or 0))


async def _plan_for_these_values(session: AsyncSession) -> None:
    """Plan this transaction's statements for their actual values, not once for any.

    A sync grows hour_entries from empty: a generic plan cached while it was small keeps
    scanning the whole table for every batch after (with each id of the batch tested against a
    list, not a hash), so one sync's later batches took seconds each. Planning per statement
    costs well under a millisecond here.
    """
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def _store_digests(session: AsyncSession, digests: dict[date, str]) -> None:
    await session.execute(
        text(_STORE_CHECKSUMS), {"days": list(digests), "digests": list(digests.values())}
    )


async def month_counts(session: AsyncSession, month: date) -> tuple[int, int]:
    """(hour entries dated in the month, invoices of the month)."""
    row = (
        await session.execute(
            text(
                "SELECT (SELECT count(*) FROM invoice_checker.hour_entries"
                " WHERE date >= :month AND date < CAST(:month AS date) + interval '1 month'),"
                " (SELECT count(*) FROM invoice_checker.invoices WHERE date = :month)"
            ),
            {"month": month},
        )
    ).one()
    return int(row[0]), int(row[1])
