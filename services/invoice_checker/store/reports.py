"""The sums behind the reports and directory pages (spec 7), one aggregate query each.

"Counted" hours below are submitted or approved (status other than Unsubmitted) with hours > 0.
Project work is `leave_type = '[project]'`; leave entries are billable at 0 money in the data
(spec 1.5.1), so ratios that should ignore leaves filter on project work.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.scopes import Scope
from invoice_checker.store.scopes import scope_params, scope_sql

COUNTED = "e.status <> 'Unsubmitted' AND e.incurred_hours > 0"
PROJECT_WORK = "e.leave_type = '[project]'"
INTERNAL_CLIENTS = ("Solinor", "[none]")


async def _rows(session: AsyncSession, sql: str, **params: Any) -> list[Any]:
    return list((await session.execute(text(sql), params)).mappings())


def _sql(template: str) -> str:
    """The query with the shared fragments filled in by name: only these constants are ever
    put into SQL text; values are bound parameters."""
    return template.format(
        COUNTED=COUNTED,
        PROJECT_WORK=PROJECT_WORK,
        BILLABLE="e.calculated_is_billable",
        INVOICE_SUMS=_INVOICE_SUMS.format(PROJECT_IN_SCOPE=scope_sql("p.guid")),
        PROJECT_IN_SCOPE=scope_sql("p.guid"),
    )


# Billing ratio ---------------------------------------------------------------------------------


async def billable_hours_by_person(
    session: AsyncSession, *, start: date, end: date, include_leaves: bool
) -> list[Any]:
    return await _rows(
        session,
        _sql(
            """
        SELECT e.user_email AS email, max(e.user_name) AS name,
            coalesce(sum(e.incurred_hours) FILTER (WHERE e.calculated_is_billable), 0)
                AS billable_hours,
            coalesce(sum(e.incurred_hours) FILTER (WHERE NOT e.calculated_is_billable), 0)
                AS non_billable_hours
        FROM invoice_checker.hour_entries e
        WHERE {COUNTED} AND e.date BETWEEN :start AND :end
          AND (:include_leaves OR {PROJECT_WORK})
        GROUP BY e.user_email ORDER BY e.user_email
        """
        ),
        start=start,
        end=end,
        include_leaves=include_leaves,
    )


# Sick leaves -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SickDays:
    guid: uuid.UUID
    email: str
    name: str
    days: list[date]


async def sick_days_by_person(session: AsyncSession, *, since: date) -> list[SickDays]:
    rows = await _rows(
        session,
        _sql(
            """
        SELECT u.guid, u.email, coalesce(u.display_name, u.email) AS name,
            array_agg(DISTINCT e.date ORDER BY e.date) AS days
        FROM invoice_checker.hour_entries e
        JOIN invoice_checker.tenkfeet_users u ON u.guid = e.user_guid
        WHERE e.leave_type = 'Sick leave' AND {COUNTED} AND e.date >= :since
          AND NOT u.archived
        GROUP BY u.guid, u.email, u.display_name
        """
        ),
        since=since,
    )
    return [SickDays(r["guid"], r["email"], r["name"], list(r["days"])) for r in rows]


# Company stats ---------------------------------------------------------------------------------


async def company_months(session: AsyncSession, *, first: date, last: date) -> list[Any]:
    return await _rows(
        session,
        _sql(
            """
        WITH counted AS (
            SELECT e.*, CAST(date_trunc('month', e.date) AS date) AS month
            FROM invoice_checker.hour_entries e
            WHERE {COUNTED} AND e.date BETWEEN :first AND :last
        ),
        employees AS (
            SELECT month, count(*) AS employees FROM (
                SELECT month, user_email FROM counted GROUP BY month, user_email
                HAVING sum(incurred_hours) >= :employee_hours
            ) people GROUP BY month
        )
        SELECT c.month,
            coalesce(sum(c.incurred_money)
                FILTER (WHERE c.calculated_is_billable AND c.leave_type = '[project]'), 0)
                AS billable_money,
            coalesce(sum(c.incurred_hours)
                FILTER (WHERE c.calculated_is_billable AND c.leave_type = '[project]'), 0)
                AS billable_hours,
            coalesce(sum(c.incurred_hours) FILTER (WHERE NOT c.calculated_is_billable
                AND c.leave_type = '[project]' AND c.client <> 'Solinor'), 0)
                AS non_billable_customer_hours,
            coalesce(sum(c.incurred_hours)
                FILTER (WHERE NOT c.calculated_is_billable AND c.leave_type = '[project]'), 0)
                AS non_billable_hours,
            coalesce(sum(c.incurred_hours) FILTER (WHERE c.calculated_is_billable), 0)
                AS billable_hours_with_leaves,
            coalesce(sum(c.incurred_hours) FILTER (WHERE NOT c.calculated_is_billable), 0)
                AS non_billable_hours_with_leaves,
            coalesce(max(em.employees), 0) AS employees
        FROM counted c LEFT JOIN employees em ON em.month = c.month
        GROUP BY c.month ORDER BY c.month
        """
        ),
        first=first,
        last=last,
        employee_hours=37.5,
    )


# Client stats ----------------------------------------------------------------------------------


async def client_days(
    session: AsyncSession, *, first: date, last: date
) -> dict[str, dict[date, tuple[int, float]]]:
    """Per client and weekday: (people, hours), excluding internal work (spec 7.4)."""
    rows = await _rows(
        session,
        """
        SELECT e.client, e.date, count(DISTINCT e.user_email) AS people,
            sum(e.incurred_hours) AS hours
        FROM invoice_checker.hour_entries e
        JOIN invoice_checker.invoices i ON i.id = e.invoice_id
        JOIN invoice_checker.projects p ON p.guid = i.project_guid
        WHERE e.date BETWEEN :first AND :last AND e.incurred_hours > 0
          AND extract(isodow FROM e.date) < 6
          AND coalesce(p.project_state, '') <> 'Internal'
          AND e.client NOT IN ('Solinor', '[none]')
        GROUP BY e.client, e.date
        """,
        first=first,
        last=last,
    )
    per_client: dict[str, dict[date, tuple[int, float]]] = defaultdict(dict)
    for r in rows:
        per_client[r["client"]][r["date"]] = (r["people"], r["hours"])
    return dict(per_client)


# Front page ------------------------------------------------------------------------------------


def _windows(today: date) -> dict[str, date]:
    """The front page's look-back windows, as dates."""
    windows = {f"day_{days}": today - timedelta(days=days) for days in (30, 60, 95, 365)}
    return {"today": today, "week_start": today - timedelta(days=6), **windows}


async def person_front_page(session: AsyncSession, *, email: str, today: date) -> dict[str, Any]:
    rows = await _rows(
        session,
        _sql(
            """
        SELECT
            max(e.date) FILTER (WHERE {COUNTED}) AS last_marking,
            coalesce(sum(e.incurred_hours) FILTER (
                WHERE {COUNTED} AND e.date BETWEEN :week_start AND :today), 0) AS hours_this_week,
            coalesce(sum(e.incurred_hours) FILTER (WHERE {COUNTED} AND e.calculated_is_billable
                AND e.date BETWEEN :day_30 AND :today), 0) AS billable_30d,
            coalesce(sum(e.incurred_hours) FILTER (WHERE {COUNTED}
                AND NOT e.calculated_is_billable AND e.date BETWEEN :day_30 AND :today), 0)
                AS non_billable_30d,
            count(*) FILTER (WHERE e.status = 'Unsubmitted' AND e.incurred_hours <> 0)
                AS unsubmitted
        FROM invoice_checker.hour_entries e WHERE e.user_email = :email
        """
        ),
        email=email,
        **_windows(today),
    )
    daily = await _rows(
        session,
        _sql(
            """
        SELECT e.date,
            coalesce(sum(e.incurred_hours) FILTER (WHERE e.calculated_is_billable), 0) AS b,
            coalesce(sum(e.incurred_hours) FILTER (WHERE NOT e.calculated_is_billable), 0) AS n
        FROM invoice_checker.hour_entries e
        WHERE e.user_email = :email AND {COUNTED} AND e.date BETWEEN :day_95 AND :today
        GROUP BY e.date
        """
        ),
        email=email,
        **_windows(today),
    )
    return {**rows[0], "daily": {r["date"]: (r["b"], r["n"]) for r in daily}}


async def company_front_page(session: AsyncSession, *, today: date) -> dict[str, Any]:
    rows = await _rows(
        session,
        _sql(
            """
        SELECT
            coalesce(sum(e.incurred_money) FILTER (WHERE {COUNTED} AND {BILLABLE}
                AND e.date > :day_30), 0) AS money_30d,
            coalesce(sum(e.incurred_money) FILTER (WHERE {COUNTED} AND {BILLABLE}), 0)
                AS money_365d,
            coalesce(sum(e.incurred_hours) FILTER (WHERE {COUNTED} AND {BILLABLE}
                AND e.date > :day_30), 0) AS billable_30d,
            coalesce(sum(e.incurred_hours) FILTER (WHERE {COUNTED} AND NOT {BILLABLE}
                AND e.date > :day_30), 0) AS non_billable_30d,
            coalesce(sum(e.incurred_hours) FILTER (WHERE {COUNTED} AND {BILLABLE}), 0)
                AS billable_365d,
            coalesce(sum(e.incurred_hours) FILTER (WHERE {COUNTED} AND NOT {BILLABLE}), 0)
                AS non_billable_365d,
            count(*) FILTER (WHERE {COUNTED} AND NOT e.calculated_has_notes
                AND e.date > :day_30) AS no_descriptions_30d,
            count(*) FILTER (WHERE {COUNTED} AND e.date > :day_30
                AND (NOT e.calculated_has_phase OR NOT e.calculated_has_category))
                AS no_phases_categories_30d,
            coalesce(sum(e.incurred_money) FILTER (WHERE e.status = 'Unsubmitted'
                AND e.date >= :day_60), 0) AS unsubmitted_money,
            count(*) FILTER (WHERE e.status = 'Unsubmitted' AND e.incurred_hours <> 0
                AND e.date >= :day_60) AS unsubmitted_count,
            coalesce(sum(e.incurred_money) FILTER (WHERE e.status = 'Pending Approval'
                AND e.date >= :day_60), 0) AS pending_money,
            count(*) FILTER (WHERE e.status = 'Pending Approval'
                AND e.date >= :day_60) AS pending_count
        FROM invoice_checker.hour_entries e
        WHERE e.date > :day_365 AND e.date <= :today
        """
        ),
        **_windows(today),
    )
    large = await _rows(
        session,
        """
        SELECT count(*) AS n FROM (
            SELECT p.client_id FROM invoice_checker.invoices i
            JOIN invoice_checker.projects p ON p.guid = i.project_guid
            WHERE i.date > :day_365 GROUP BY p.client_id
            HAVING sum(i.incurred_money) >= :large
        ) big
        """,
        **_windows(today),
        large=300_000.0,
    )
    return {**rows[0], "large_accounts_365d": large[0]["n"]}


# Directory -------------------------------------------------------------------------------------

_INVOICE_SUMS = """
    SELECT p.client_id, p.guid AS project_guid, sum(i.incurred_hours) AS hours,
        sum(i.incurred_money) AS money, count(*) AS invoices
    FROM invoice_checker.invoices i JOIN invoice_checker.projects p ON p.guid = i.project_guid
    WHERE {PROJECT_IN_SCOPE}
    GROUP BY p.client_id, p.guid
"""


async def client_names(session: AsyncSession, scope: Scope) -> list[Any]:
    """The id and name of every client with a project page in `scope`, by name (a filter's
    choices)."""
    return await _rows(
        session,
        _sql(
            """
        SELECT c.id, c.name FROM invoice_checker.clients c
        WHERE EXISTS (SELECT 1 FROM invoice_checker.projects p
                      WHERE p.client_id = c.id AND {PROJECT_IN_SCOPE})
        ORDER BY c.name
        """
        ),
        **scope_params(scope, directory=True),
    )


async def clients_with_sums(
    session: AsyncSession, scope: Scope, client_id: int | None = None
) -> list[Any]:
    """Clients with a project page in `scope`, with the sums of the projects in it."""
    return await _rows(
        session,
        _sql(
            """
        SELECT c.id, c.name, coalesce(sum(s.hours), 0) AS incurred_hours,
            coalesce(sum(s.money), 0) AS incurred_money,
            coalesce(sum(s.invoices), 0) AS invoices
        FROM invoice_checker.clients c LEFT JOIN ({INVOICE_SUMS}) s ON s.client_id = c.id
        WHERE (CAST(:client_id AS integer) IS NULL OR c.id = :client_id)
          AND EXISTS (SELECT 1 FROM invoice_checker.projects p
                      WHERE p.client_id = c.id AND {PROJECT_IN_SCOPE})
        GROUP BY c.id, c.name
        HAVING CAST(:client_id AS integer) IS NOT NULL OR coalesce(sum(s.hours), 0) > 0
        ORDER BY incurred_money DESC, c.name
        """
        ),
        client_id=client_id,
        **scope_params(scope, directory=True),
    )


async def projects_with_sums(
    session: AsyncSession,
    scope: Scope,
    *,
    q: str | None = None,
    client_id: int | None = None,
    guid: uuid.UUID | None = None,
    no_lead: bool = False,
    running_on: date | None = None,
    lead: str | None = None,
) -> list[Any]:
    return await _rows(
        session,
        _sql(
            """
        SELECT p.guid, p.project_id AS upstream_id, p.name, c.name AS client, c.id AS client_id,
            p.project_state AS state, p.archived, p.starts_at, p.ends_at,
            coalesce(s.hours, 0) AS incurred_hours, coalesce(s.money, 0) AS incurred_money,
            coalesce((
                SELECT array_agg(u.email ORDER BY u.email)
                FROM invoice_checker.project_admins a
                JOIN invoice_checker.tenkfeet_users u ON u.guid = a.user_guid
                WHERE a.project_guid = p.guid
            ), '{{}}') AS leads
        FROM invoice_checker.projects p
        JOIN invoice_checker.clients c ON c.id = p.client_id
        LEFT JOIN ({INVOICE_SUMS}) s ON s.project_guid = p.guid
        WHERE (CAST(:q AS text) IS NULL  -- a plain substring: % and _ in q are not wildcards
                OR strpos(lower(p.name), lower(:q)) > 0 OR strpos(lower(c.name), lower(:q)) > 0)
          AND (CAST(:client_id AS integer) IS NULL OR c.id = :client_id)
          AND (CAST(:guid AS uuid) IS NULL OR p.guid = :guid)
          AND (NOT :no_lead OR NOT EXISTS (
                SELECT 1 FROM invoice_checker.project_admins a WHERE a.project_guid = p.guid))
          AND (CAST(:running_on AS date) IS NULL
                OR (p.starts_at <= :running_on AND :running_on <= p.ends_at))
          AND {PROJECT_IN_SCOPE}
          AND (CAST(:lead AS text) IS NULL OR EXISTS (
                SELECT 1 FROM invoice_checker.project_admins a
                JOIN invoice_checker.tenkfeet_users u ON u.guid = a.user_guid
                WHERE a.project_guid = p.guid AND u.email = lower(:lead)))
        ORDER BY c.name, p.name
        """
        ),
        q=q,
        client_id=client_id,
        guid=guid,
        no_lead=no_lead,
        running_on=running_on,
        lead=lead,
        **scope_params(scope, directory=True),
    )


async def invoices_of(
    session: AsyncSession,
    scope: Scope,
    *,
    project_guid: uuid.UUID | None = None,
    client_id: int | None = None,
) -> list[Any]:
    """Invoices of a project or client that `scope` reaches (employees: none)."""
    return await _rows(
        session,
        _sql(
            """
        SELECT i.id, to_char(i.date, 'YYYY-MM') AS month, i.invoice_state AS state,
            p.name AS project, i.incurred_hours, i.incurred_money, i.incorrect_entries_count
        FROM invoice_checker.invoices i JOIN invoice_checker.projects p ON p.guid = i.project_guid
        WHERE (CAST(:project AS uuid) IS NULL OR i.project_guid = :project)
          AND (CAST(:client AS integer) IS NULL OR p.client_id = :client)
          AND {PROJECT_IN_SCOPE}
        ORDER BY i.date DESC, p.name
        """
        ),
        project=project_guid,
        client=client_id,
        **scope_params(scope),
    )


async def members_of(
    session: AsyncSession,
    scope: Scope,
    *,
    project_guid: uuid.UUID | None = None,
    client_id: int | None = None,
) -> list[Any]:
    """People with more than one counted hour on a project or a client's projects in `scope`;
    to an employee only themselves."""
    return await _rows(
        session,
        _sql(
            """
        SELECT e.user_email AS email, max(e.user_name) AS name, sum(e.incurred_hours) AS hours
        FROM invoice_checker.hour_entries e
        JOIN invoice_checker.invoices i ON i.id = e.invoice_id
        JOIN invoice_checker.projects p ON p.guid = i.project_guid
        WHERE {COUNTED}
          AND (CAST(:project AS uuid) IS NULL OR p.guid = :project)
          AND (CAST(:client AS integer) IS NULL OR p.client_id = :client)
          AND {PROJECT_IN_SCOPE} AND (:scope_sees_money OR e.user_email = :scope_email)
        GROUP BY e.user_email HAVING sum(e.incurred_hours) > 1
        ORDER BY hours DESC
        """
        ),
        project=project_guid,
        client=client_id,
        **scope_params(scope, directory=True),
    )


async def people_of_month(
    session: AsyncSession, *, first: date, last: date, guid: uuid.UUID | None = None
) -> list[Any]:
    """Per non-archived person, the month's project work (spec 7.6 "People")."""
    return await _rows(
        session,
        _sql(
            """
        SELECT u.guid, u.email, u.display_name AS name, u.archived,
            coalesce(sum(e.incurred_hours) FILTER (WHERE e.calculated_is_billable), 0)
                AS billable_hours,
            coalesce(sum(e.incurred_hours) FILTER (WHERE NOT e.calculated_is_billable), 0)
                AS non_billable_hours,
            coalesce(sum(e.incurred_money) FILTER (WHERE e.calculated_is_billable), 0)
                AS billable_money,
            coalesce(sum(e.incurred_money) FILTER (WHERE NOT e.calculated_is_billable), 0)
                AS non_billable_money,
            count(e.id) FILTER (WHERE NOT e.calculated_has_notes OR NOT e.calculated_has_phase
                OR NOT e.calculated_has_category) AS issues
        FROM invoice_checker.tenkfeet_users u
        LEFT JOIN invoice_checker.hour_entries e ON e.user_guid = u.guid AND {COUNTED}
            AND {PROJECT_WORK} AND e.date BETWEEN :first AND :last
        WHERE (CAST(:guid AS uuid) IS NULL AND NOT u.archived) OR u.guid = :guid
        GROUP BY u.guid ORDER BY u.first_name, u.last_name, u.email
        """
        ),
        first=first,
        last=last,
        guid=guid,
    )


async def months_with_entries(session: AsyncSession, guid: uuid.UUID) -> list[str]:
    rows = await _rows(
        session,
        _sql(
            """
        SELECT DISTINCT to_char(e.date, 'YYYY-MM') AS month FROM invoice_checker.hour_entries e
        WHERE e.user_guid = :guid AND {COUNTED} ORDER BY month DESC
        """
        ),
        guid=guid,
    )
    return [r["month"] for r in rows]
