"""A `Scope` (domain/scopes.py) as SQL: the one place that says which rows a person reaches.

Use these in every query a route or page runs for a person:

- `led_project_guids(email)`: the projects a person leads (their 10000ft tags), a subquery.
- `project_visible(scope, column)`: a condition on a project-guid column (invoices, projects).
- `hour_entry_visible(scope)`: a condition on `HourEntry`: the projects in reach, plus one's own.
- `invoice_in_scope(session, scope, invoice_id)` / `project_in_scope(...)`: the row, or None
  when it does not exist *or* is out of reach (routes answer 404 for both, never 403).
- `leads_project(session, scope, project_guid)`: may this person act on the project as its lead.
- `principal_for_slack_id(session, slack_id)`: the active person behind a Slack user (through
  the Slack ids the Slack sync stores on 10000ft users), for unfurls.
- `scope_sql(column)` and `scope_params(scope[, directory=True])`: the same rule for SQL text;
  `directory=True` is the reach of project and client pages (`Scope.directory_reach`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.permissions import Principal, permissions_of
from invoice_checker.domain.scopes import ProjectReach, Scope
from invoice_checker.store.auth import AuthUser
from invoice_checker.store.directory import Project, ProjectAdmin, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice


def led_project_guids(email: Any) -> Select[Any]:
    """Guids of the projects whose leads include the 10000ft user with this e-mail (a value or
    a bound parameter)."""
    return (
        select(ProjectAdmin.project_guid)
        .join(TenkfeetUser, TenkfeetUser.guid == ProjectAdmin.user_guid)
        .where(TenkfeetUser.email == email)
    )


def project_visible(scope: Scope, column: Any) -> ColumnElement[bool]:
    """Rows whose project (`column`, a project guid) is in the person's reach."""
    if scope.reach is ProjectReach.ALL:
        return true()
    if scope.reach is ProjectReach.LED:
        condition: ColumnElement[bool] = column.in_(led_project_guids(scope.email))
        return condition
    return false()


def hour_entry_visible(scope: Scope) -> ColumnElement[bool]:
    """Hour entries of the projects in reach, and the person's own entries everywhere."""
    if scope.reach is ProjectReach.ALL:
        return true()
    own = HourEntry.user_email == scope.email
    if scope.reach is ProjectReach.NONE:
        return own
    in_reach = select(Invoice.id).where(project_visible(scope, Invoice.project_guid))
    return or_(own, HourEntry.invoice_id.in_(in_reach))


async def invoice_in_scope(
    session: AsyncSession, scope: Scope, invoice_id: uuid.UUID
) -> Invoice | None:
    """The invoice, or None when there is none or it is outside the person's reach."""
    # populate_existing: the stats refresh updates rows in SQL, behind the identity map's back.
    invoice = await session.get(Invoice, invoice_id, populate_existing=True)
    if invoice is None or not await _reaches(session, scope, invoice.project_guid):
        return None
    return invoice


async def project_in_scope(
    session: AsyncSession, scope: Scope, project_guid: uuid.UUID
) -> Project | None:
    """The project, or None when there is none or it is outside the person's reach."""
    project = await session.get(Project, project_guid)
    if project is None or not await _reaches(session, scope, project.guid):
        return None
    return project


async def leads_project(session: AsyncSession, scope: Scope, project_guid: uuid.UUID) -> bool:
    """True when the person is among the project's leads (whatever else they may do)."""
    found = await session.scalar(
        led_project_guids(scope.email).where(ProjectAdmin.project_guid == project_guid).limit(1)
    )
    return found is not None


async def _reaches(session: AsyncSession, scope: Scope, project_guid: uuid.UUID) -> bool:
    if scope.reach is ProjectReach.ALL:
        return True
    if scope.reach is ProjectReach.LED:
        return await leads_project(session, scope, project_guid)
    return False


async def principal_for_slack_id(session: AsyncSession, slack_id: str) -> Principal | None:
    """The active person whose 10000ft user carries this Slack id; None for anyone else
    (guests, people who never signed in, deactivated people)."""
    row = (
        await session.execute(
            select(AuthUser.id, AuthUser.email, AuthUser.groups)
            .join(TenkfeetUser, func.lower(TenkfeetUser.email) == AuthUser.email)
            .where(TenkfeetUser.slack_id == slack_id, AuthUser.active)
            .limit(1)
        )
    ).one_or_none()
    if row is None:
        return None
    user_id, email, groups = row
    return Principal(user_id, email, tuple(groups), permissions_of(groups))


# The same rule for SQL text (store/reports.py): `scope_sql` with the parameters of
# `scope_params`; the projects a person leads, as in `led_project_guids`.
_LED_PROJECTS_SQL = """
    SELECT scope_a.project_guid FROM invoice_checker.project_admins scope_a
    JOIN invoice_checker.tenkfeet_users scope_u ON scope_u.guid = scope_a.user_guid
    WHERE scope_u.email = :scope_email
"""


def scope_sql(column: str) -> str:
    """A condition on a project-guid column of SQL text (a fixed name, never user input)."""
    return f"(:scope_all OR (:scope_led AND {column} IN ({_LED_PROJECTS_SQL})))"


def scope_params(scope: Scope, *, directory: bool = False) -> dict[str, Any]:
    """The bound values `scope_sql` needs: the projects whose invoices and hours the person
    reaches, or with `directory` the project and client pages they may open."""
    reach = scope.directory_reach if directory else scope.reach
    return {
        "scope_all": reach is ProjectReach.ALL,
        "scope_led": reach is ProjectReach.LED,
        "scope_email": scope.email,
        "scope_sees_money": scope.sees_money,
    }
