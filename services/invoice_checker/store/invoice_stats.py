"""The one recomputation of invoice stats (spec 2.3 and 2.6), used by syncs, edits and the nightly
job alike. It is a single SQL aggregation so a month of 10,000 invoices refreshes in about a second.

Counted entries (spec 2.2): submitted or approved (status other than Unsubmitted) with hours > 0.
`no_category_count` is stored too (the original left it at 0 while adding it to the total, 15.3).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One lock for every refresh: two concurrent refreshes would otherwise update the same invoice
# rows in different orders and could deadlock. A refresh is short, so serialising costs little.
REFRESH_LOCK_KEY = 0x1C_57A7

_REFRESH_SQL = """
WITH targets AS (
    SELECT id FROM invoice_checker.invoices
    WHERE (CAST(:months AS date[]) IS NULL OR date = ANY(CAST(:months AS date[])))
      AND (CAST(:ids AS uuid[]) IS NULL OR id = ANY(CAST(:ids AS uuid[])))
),
counted AS (
    SELECT e.* FROM invoice_checker.hour_entries e
    WHERE e.invoice_id IN (SELECT id FROM targets)
      AND e.status <> 'Unsubmitted' AND e.incurred_hours > 0
      AND (CAST(:first_day AS date) IS NULL OR e.date >= CAST(:first_day AS date))
      AND (CAST(:last_day AS date) IS NULL OR e.date <= CAST(:last_day AS date))
),
per_invoice AS (
    SELECT
        invoice_id,
        count(*) AS total_entries,
        sum(incurred_hours) AS hours,
        coalesce(sum(incurred_hours) FILTER (WHERE calculated_is_billable), 0) AS billable_hours,
        coalesce(sum(incurred_money) FILTER (WHERE calculated_is_billable), 0) AS money,
        count(*) FILTER (WHERE calculated_is_billable AND NOT calculated_has_proper_price)
            AS billable_incorrect_price,
        count(*) FILTER (WHERE NOT calculated_is_billable) AS non_billable,
        count(*) FILTER (WHERE NOT calculated_has_phase) AS non_phase_specific,
        count(*) FILTER (WHERE NOT calculated_is_approved) AS not_approved,
        count(*) FILTER (WHERE NOT calculated_has_notes) AS empty_descriptions,
        count(*) FILTER (WHERE NOT calculated_has_category) AS no_category
    FROM counted
    GROUP BY invoice_id
),
stats AS (
    SELECT
        t.id,
        coalesce(p.total_entries, 0) AS total_entries,
        coalesce(p.hours, 0) AS hours,
        coalesce(p.billable_hours, 0) AS billable_hours,
        coalesce(p.money, 0) AS money,
        coalesce(p.billable_incorrect_price, 0) AS billable_incorrect_price,
        coalesce(p.non_billable, 0) AS non_billable,
        coalesce(p.non_phase_specific, 0) AS non_phase_specific,
        coalesce(p.not_approved, 0) AS not_approved,
        coalesce(p.empty_descriptions, 0) AS empty_descriptions,
        coalesce(p.no_category, 0) AS no_category
    FROM targets t LEFT JOIN per_invoice p ON p.invoice_id = t.id
)
UPDATE invoice_checker.invoices AS i SET
    total_entries = s.total_entries,
    incurred_hours = s.hours,
    incurred_billable_hours = s.billable_hours,
    incurred_money = s.money,
    bill_rate_avg = CASE WHEN s.hours > 0 THEN s.money / s.hours ELSE 0 END,
    billable_percentage = CASE WHEN s.hours > 0 THEN s.billable_hours / s.hours ELSE 0 END,
    billable_incorrect_price_count = s.billable_incorrect_price,
    non_billable_hours_count = s.non_billable,
    non_phase_specific_count = s.non_phase_specific,
    not_approved_hours_count = s.not_approved,
    empty_descriptions_count = s.empty_descriptions,
    no_category_count = s.no_category,
    -- One entry can be counted several times, as in the original.
    incorrect_entries_count = s.billable_incorrect_price + s.non_billable + s.non_phase_specific
        + s.not_approved + s.empty_descriptions + s.no_category,
    stats_refreshed_at = now()
FROM stats s
WHERE i.id = s.id
"""


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


async def refresh_invoice_stats(
    session: AsyncSession,
    *,
    months: Collection[date] | None = None,
    invoice_ids: Collection[uuid.UUID] | None = None,
) -> int:
    """Recompute the stats of the invoices of `months` (any day of each month) and/or of
    `invoice_ids`; of every invoice when both are None. Returns how many invoices were refreshed.
    Runs in the caller's transaction."""
    month_list = sorted({month_start(day) for day in months}) if months is not None else None
    if month_list == [] or (invoice_ids is not None and not invoice_ids):
        return 0
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK_KEY})
    result = await session.execute(
        text(_REFRESH_SQL),
        {
            "months": month_list,
            "ids": list(invoice_ids) if invoice_ids is not None else None,
            # Bounds let PostgreSQL use the date index when refreshing by month.
            "first_day": month_list[0] if month_list else None,
            "last_day": month_end(month_list[-1]) if month_list else None,
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)
