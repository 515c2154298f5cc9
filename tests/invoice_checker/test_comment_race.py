"""Issue 12's race: a team lead's comment submitted while finance saves an invoice number wiped
the number (26 of 30 tries), because the finance-only fields were compared with the latest
comment before the invoice row was locked. Now they are compared under the lock."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.auth import AuthUser
from invoice_checker.store.checking import latest_comment
from invoice_checker.store.directory import Client, Project, TenkfeetUser
from invoice_checker.store.invoices import Invoice
from tests.invoice_checker.invoice_factories import (
    bearer,
    lead_token,
    make_invoice,
    make_project,
    make_token,
)
from tests.support.apps import app_client


async def _wait_until_waiting(engine: AsyncEngine, count: int, timeout: float = 10.0) -> None:
    """Until `count` backends of this database wait for a lock (the requests behind ours)."""
    deadline = time.monotonic() + timeout
    async with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            await connection.rollback()
            if waiting >= count:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{count} requests never waited for the invoice lock")


async def test_a_leads_comment_during_finances_save_keeps_the_number(
    engine: AsyncEngine, ic_settings: InvoiceCheckerSettings
) -> None:
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    lead_email = f"race-lead-{uuid.uuid4().hex[:8]}@example.com"
    finance_email = f"race-finance-{uuid.uuid4().hex[:8]}@example.com"
    async with sessionmaker() as session:
        project = await make_project(session, name=f"Race {uuid.uuid4().hex[:6]}")
        invoice = await make_invoice(session, project, date(2026, 7, 1))
        lead = bearer(await lead_token(session, project, email=lead_email))
        finance = bearer(await make_token(session, "finance", finance_email))
        await session.commit()
    try:
        async with app_client(create_app(ic_settings)) as client:
            url = f"/api/v1/invoices/{invoice.id}/comments"
            # Hold the invoice row, so both requests line up behind it: finance's first.
            async with sessionmaker() as holder:
                await holder.get_one(Invoice, invoice.id, with_for_update=True)
                finance_saves = asyncio.create_task(
                    client.post(
                        url, json={"checked": True, "invoice_number": "2026-42"}, headers=finance
                    )
                )
                await _wait_until_waiting(engine, 1)
                lead_comments = asyncio.create_task(
                    client.post(url, json={"checked": True, "comments": "fine"}, headers=lead)
                )
                await _wait_until_waiting(engine, 2)
                await holder.rollback()
            saved, response = await finance_saves, await lead_comments
        assert saved.status_code == 201, saved.text
        # The lead's submission no longer carries the current number: refused, not applied.
        assert response.status_code == 403, response.text
        assert response.json()["permission"] == "can_send_invoices"
        async with sessionmaker() as session:
            latest = await latest_comment(session, invoice.id)
            assert latest is not None and latest.invoice_number == "2026-42"
            stored = await session.get_one(Invoice, invoice.id)
            assert stored.invoice_state == "P"
    finally:
        async with sessionmaker() as session:
            await session.execute(delete(Project).where(Project.guid == project.guid))
            await session.execute(delete(Client).where(Client.id == project.client_id))
            await session.execute(delete(TenkfeetUser).where(TenkfeetUser.email == lead_email))
            await session.execute(
                delete(AuthUser).where(AuthUser.email.in_([lead_email, finance_email]))
            )
            await session.commit()
            assert (
                await session.execute(select(Invoice.id).where(Invoice.id == invoice.id))
            ).first() is None
