"""Factories for the rows flex, Slack and AWS tests stand on: clients, people, projects, entries."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.directory import Client, Project, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice

_ids = itertools.count(1_000_000)


async def make_client(session: AsyncSession, name: str | None = None) -> Client:
    client = Client(name=name or f"Client {next(_ids)}")
    session.add(client)
    await session.flush()
    return client


async def make_user(
    session: AsyncSession,
    first_name: str = "Alice",
    last_name: str = "Admin",
    *,
    email: str | None = None,
    **fields: Any,
) -> TenkfeetUser:
    number = next(_ids)
    user = TenkfeetUser(
        guid=uuid.uuid4(),
        user_id=number,
        first_name=first_name,
        last_name=last_name,
        email=email or f"{first_name.lower()}.{number}@example.com",
        **fields,
    )
    session.add(user)
    await session.flush()
    return user


async def make_project(
    session: AsyncSession, name: str = "Webshop", *, client: Client | None = None, **fields: Any
) -> Project:
    client = client or await make_client(session)
    values: dict[str, Any] = {
        "guid": uuid.uuid4(),
        "project_id": next(_ids),
        "name": name,
        "client_id": client.id,
        "project_state": "Confirmed",
        **fields,
    }
    project = Project(**values)
    session.add(project)
    await session.flush()
    return project


async def make_invoice(session: AsyncSession, project: Project, month: date) -> Invoice:
    invoice = Invoice(date=month.replace(day=1), project_guid=project.guid)
    session.add(invoice)
    await session.flush()
    return invoice


async def make_entry(
    session: AsyncSession,
    user: TenkfeetUser,
    invoice: Invoice,
    day: date,
    hours: float,
    *,
    project: str = "Webshop",
    leave_type: str = "[project]",
    phase_name: str = "Development",
    status: str = "Approved",
    **fields: Any,
) -> HourEntry:
    values: dict[str, Any] = {
        "upstream_id": next(_ids),
        "date": day,
        "invoice_id": invoice.id,
        "last_updated_at": datetime(2018, 1, 1, tzinfo=UTC),
        "user_guid": user.guid,
        "user_id": user.user_id,
        "user_email": user.email,
        "user_name": user.full_name,
        "client": "Acme",
        "project": project,
        "incurred_hours": hours,
        "incurred_money": hours * 100,
        "bill_rate": 100.0,
        "category": "Development",
        "notes": "work",
        "entry_type": "Project" if leave_type == "[project]" else "LeaveType",
        "discipline": "[none]",
        "role": "[none]",
        "leave_type": leave_type,
        "phase_name": phase_name,
        "billable": True,
        "approved": status == "Approved",
        "status": status,
        **fields,
    }
    entry = HourEntry(**values)
    session.add(entry)
    await session.flush()
    return entry
