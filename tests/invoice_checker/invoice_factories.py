"""Factories for invoices, their projects and hour entries, and for signed-in callers."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.auth import ensure_user, issue_credential
from invoice_checker.store.directory import Client, Project, ProjectAdmin, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice

_ids = itertools.count(1_000_000 + uuid.uuid4().int % 1_000_000 * 1000)

ROLES = ("admin", "finance", "team-lead", "employee")


async def make_token(session: AsyncSession, group: str, email: str | None = None) -> str:
    """A personal API token of a (new) user in `group`."""
    user = await ensure_user(session, email or f"{group}-{next(_ids)}@example.com", groups=[group])
    _, secret = await issue_credential(session, user, kind="api", name="test")
    await session.flush()
    return secret


async def lead_token(session: AsyncSession, *projects: Project, email: str | None = None) -> str:
    """A team lead's token; the lead leads `projects` (as the project sync records it)."""
    number = next(_ids)
    email = email or f"lead-{number}@example.com"
    person = (
        await session.execute(select(TenkfeetUser).where(TenkfeetUser.email == email))
    ).scalar_one_or_none()
    if person is None:
        person = TenkfeetUser(guid=uuid.uuid4(), user_id=number % 10**9, email=email)
        session.add(person)
        await session.flush()
    session.add_all(ProjectAdmin(project_guid=p.guid, user_guid=person.guid) for p in projects)
    await session.flush()
    return await make_token(session, "team-lead", email)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_project(
    session: AsyncSession, *, name: str = "Webshop", client: str | None = None
) -> Project:
    client_row = Client(name=client or f"Client {next(_ids)}")
    session.add(client_row)
    await session.flush()
    project = Project(
        guid=uuid.uuid4(),
        project_id=next(_ids),
        name=name,
        client_id=client_row.id,
        project_state="Confirmed",
        created_at=datetime(2017, 1, 1, tzinfo=UTC),
    )
    session.add(project)
    await session.flush()
    await session.refresh(project, ["client"])
    return project


async def make_invoice(session: AsyncSession, project: Project, month: date) -> Invoice:
    invoice = Invoice(id=uuid.uuid4(), date=month.replace(day=1), project_guid=project.guid)
    session.add(invoice)
    await session.flush()
    await session.refresh(invoice)
    return invoice


def entry_values(invoice: Invoice, **overrides: Any) -> dict[str, Any]:
    """An approved, billable, correct project-work entry; override what a test is about."""
    hours = overrides.pop("hours", 7.5)
    rate = overrides.pop("bill_rate", 100.0)
    phase = overrides.get("phase_name", "Development")
    values: dict[str, Any] = {
        "upstream_id": next(_ids),
        "date": invoice.date,
        "invoice_id": invoice.id,
        "last_updated_at": datetime.now(UTC),
        "user_id": 1,
        "user_email": "alice@example.com",
        "user_name": "Alice Admin",
        "client": "Acme",
        "project": "Webshop",
        "incurred_hours": hours,
        "incurred_money": hours * rate,
        "bill_rate": rate,
        "category": "Development",
        "notes": "work",
        "entry_type": "Confirmed",
        "discipline": "[none]",
        "role": "[none]",
        "leave_type": "[project]",
        "phase_name": phase,
        "billable": True,
        "approved": True,
        "status": "Approved",
        "calculated_is_billable": not phase.lower().startswith(("non-billable", "non billable")),
        "calculated_has_notes": True,
        "calculated_has_phase": phase != "[Non Phase Specific]",
        "calculated_is_approved": True,
        "calculated_has_proper_price": 50 < rate < 170,
        "calculated_has_category": True,
    }
    values.update(overrides)
    return values


async def add_entries(session: AsyncSession, invoice: Invoice, *rows: dict[str, Any]) -> None:
    session.add_all(HourEntry(**entry_values(invoice, **row)) for row in rows)
    await session.flush()
