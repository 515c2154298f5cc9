"""A big export does not stall the server: /healthz answers meanwhile (issue 12: a
5,000-entry PDF held it for 6 s)."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.hours import HourEntry
from tests.invoice_checker.invoice_factories import (
    bearer,
    entry_values,
    make_invoice,
    make_project,
    make_token,
)

ENTRIES = 5000
HEALTHZ_BUDGET_SECONDS = 0.1


@pytest.mark.parametrize(
    ("file_format", "magic"), [("pdf", b"%PDF"), ("xlsx", b"PK"), ("csv", b"Date")]
)
async def test_healthz_stays_fast_while_a_5000_entry_export_is_built(
    ic_client: httpx.AsyncClient, db_session: AsyncSession, file_format: str, magic: bytes
) -> None:
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 10, 1))
    db_session.add_all(
        HourEntry(
            **entry_values(
                invoice,
                date=date(2026, 10, 1) + timedelta(days=n % 28),
                hours=1 + n % 7,
                notes=f"Work item {n} with a longer description of what was done",
            )
        )
        for n in range(ENTRIES)
    )
    await db_session.flush()
    token = bearer(await make_token(db_session, "finance"))
    url = f"/api/v1/invoices/{invoice.id}/hours.{file_format}"
    export = asyncio.create_task(ic_client.get(url, headers=token))
    waits: list[float] = []
    while not export.done():
        started = time.perf_counter()
        assert (await ic_client.get("/healthz")).status_code == 200
        waits.append(time.perf_counter() - started)
        await asyncio.sleep(0.02)
    response = await export
    assert response.status_code == 200
    assert response.content.startswith(magic)
    assert len(waits) >= 5, "the export finished before /healthz was measured"
    assert max(waits) < HEALTHZ_BUDGET_SECONDS, sorted(waits)[-5:]
