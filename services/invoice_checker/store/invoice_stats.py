"""The one recomputation of invoice stats (spec 2.3-2.6), used by syncs, fixed-row and workflow
edits, the AWS import and the nightly job alike. It is one SQL aggregation per call, so a month of
10,000 invoices refreshes in about a second.

Counted entries (spec 2.2) and the incorrect-entry kinds are domain.stats' rules, written here as
the SQL it generates from them.
`no_category_count` is stored too (the original left it at 0 while adding it to the total, 15.3).

Money is kept per currency (bug 15.4): hours are euros, fixed rows and AWS rows carry their own
currency. `invoice_currency_totals` holds every currency's total and `invoices.incurred_money` the
euro total; the original added USD AWS costs to it unconverted. The combination rules are the same
as `domain.stats.invoice_totals`, which the detail view uses for the total rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Result, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.stats import INCORRECT_KINDS, counted_sql, incorrect_sql
from service_kit.advisory_locks import AdvisoryLock

_TARGETS = """
    SELECT id FROM invoice_checker.invoices
    WHERE (CAST(:months AS date[]) IS NULL OR date = ANY(CAST(:months AS date[])))
      AND (CAST(:ids AS uuid[]) IS NULL OR id = ANY(CAST(:ids AS uuid[])))
"""

# Fixed rows an invoice shows (spec 2.4): its own rows, plus its project's rows while it is not
# invoiced (Preview/Sent invoices show only the copies frozen when they got there).
_FIXED_ROWS = """
    SELECT r.invoice_id, r.currency, r.price FROM invoice_checker.invoice_fixed_rows r
    WHERE r.invoice_id IN (SELECT id FROM targets)
    UNION ALL
    SELECT i.id, r.currency, r.price
    FROM invoice_checker.invoices i
    JOIN invoice_checker.project_fixed_rows r ON r.project_guid = i.project_guid
    WHERE i.id IN (SELECT id FROM targets) AND i.invoice_state NOT IN ('P', 'S')
"""

# AWS costs (spec 2.5): per account linked to the project, the first AccountTotal row whose billing
# period starts on the invoice's first day, judged in Helsinki time like the original, and ends by
# the day after the month's last (absorbing the UTC shift of "23:59:59"). An account with no such
# row shows 0 USD.
AWS_ROW_MATCH = """
    r.linked_account_id = a.linked_account_id
    AND r.record_type = 'AccountTotal'
    AND CAST(r.billing_period_start AT TIME ZONE 'Europe/Helsinki' AS date) = {month}
    AND CAST(r.billing_period_end AT TIME ZONE 'Europe/Helsinki' AS date)
        <= CAST({month} + interval '1 month' AS date)
"""

_AWS_ROWS = f"""
    SELECT DISTINCT ON (i.id, a.linked_account_id)
        i.id AS invoice_id, coalesce(r.currency, 'USD') AS currency,
        coalesce(r.total_cost, 0) AS price
    FROM invoice_checker.invoices i
    JOIN invoice_checker.project_amazon_accounts a ON a.project_guid = i.project_guid
    LEFT JOIN invoice_checker.amazon_invoice_rows r ON {AWS_ROW_MATCH.format(month="i.date")}
    WHERE i.id IN (SELECT id FROM targets)
    ORDER BY i.id, a.linked_account_id, r.record_id
"""  # nosec B608 # constant SQL fragments only; values are bound

_CLEAR_TOTALS_SQL = f"""
WITH targets AS ({_TARGETS})
DELETE FROM invoice_checker.invoice_currency_totals
WHERE invoice_id IN (SELECT id FROM targets)
"""  # nosec B608 # constant SQL fragments only; values are bound

# The incorrect-entry counts, from domain.stats' one table of them.
_INCORRECT_COUNTS = ",\n".join(
    f"        count(*) FILTER (WHERE {incorrect_sql(kind, None)}) AS {kind}"
    for kind in INCORRECT_KINDS
)
_INCORRECT_COALESCED = ",\n".join(
    f"        coalesce(p.{kind}, 0) AS {kind}" for kind in INCORRECT_KINDS
)
_INCORRECT_UPDATES = "\n".join(f"    {kind}_count = s.{kind}," for kind in INCORRECT_KINDS)

_REFRESH_SQL = f"""
WITH targets AS ({_TARGETS}),
counted AS (
    SELECT e.* FROM invoice_checker.hour_entries e
    WHERE e.invoice_id IN (SELECT id FROM targets)
      AND {counted_sql("e")}
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
{_INCORRECT_COUNTS}
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
{_INCORRECT_COALESCED}
    FROM targets t LEFT JOIN per_invoice p ON p.invoice_id = t.id
),
money_rows AS (
    SELECT id AS invoice_id, 'EUR' AS currency, money AS price FROM stats
    UNION ALL {_FIXED_ROWS}
    UNION ALL ({_AWS_ROWS})
),
per_currency AS (
    SELECT invoice_id, currency, sum(price) AS amount FROM money_rows GROUP BY 1, 2
),
saved_totals AS (
    INSERT INTO invoice_checker.invoice_currency_totals (invoice_id, currency, amount)
    SELECT invoice_id, currency, amount FROM per_currency
)
UPDATE invoice_checker.invoices AS i SET
    total_entries = s.total_entries,
    incurred_hours = s.hours,
    incurred_billable_hours = s.billable_hours,
    incurred_money = coalesce(eur.amount, 0),
    bill_rate_avg = CASE WHEN s.hours > 0 THEN s.money / s.hours ELSE 0 END,
    billable_percentage = CASE WHEN s.hours > 0 THEN s.billable_hours / s.hours ELSE 0 END,
{_INCORRECT_UPDATES}
    -- One entry can be counted several times, as in the original.
    incorrect_entries_count = {" + ".join(f"s.{kind}" for kind in INCORRECT_KINDS)},
    stats_refreshed_at = now()
FROM stats s
LEFT JOIN per_currency eur ON eur.invoice_id = s.id AND eur.currency = 'EUR'
WHERE i.id = s.id
"""  # nosec B608 # constant SQL fragments only; values are bound


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
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": AdvisoryLock.INVOICE_STATS_REFRESH}
    )
    # JIT compiling this one statement costs ~2 s, far more than running it.
    await session.execute(text("SET LOCAL jit = off"))
    targets = {
        "months": month_list,
        "ids": list(invoice_ids) if invoice_ids is not None else None,
    }
    await session.execute(text(_CLEAR_TOTALS_SQL), targets)
    refresh = text(_REFRESH_SQL)
    parameters = {
        **targets,
        # Bounds let PostgreSQL use the date index when refreshing by month.
        "first_day": month_list[0] if month_list else None,
        "last_day": month_end(month_list[-1]) if month_list else None,
    }
    if invoice_ids is None:
        result = await _without_nested_loops(session, refresh, parameters)
    else:
        result = await session.execute(refresh, parameters)
    return int(getattr(result, "rowcount", 0) or 0)


async def _without_nested_loops(
    session: AsyncSession, statement: TextClause, parameters: dict[str, Any]
) -> Result[Any]:
    """Run a whole-month refresh without nested-loop joins.

    The statement joins its CTEs to one another. When a month's invoices are newer than the
    table's statistics (a sync has just created them), PostgreSQL expects a few dozen and may
    join the CTEs in a nested loop, rescanning one once per invoice: quadratic in the month's
    invoices. A month is refreshed whole, so joining whole sets suits it whatever the estimate.
    The caller's setting is restored afterwards.
    """
    previous = await session.scalar(text("SELECT current_setting('enable_nestloop')"))
    await session.execute(text("SET LOCAL enable_nestloop = off"))
    result = await session.execute(statement, parameters)
    # On an error the transaction (or the caller's savepoint) undoes the SET LOCAL itself.
    await session.execute(
        text("SELECT set_config('enable_nestloop', :previous, true)"), {"previous": previous}
    )
    return result
