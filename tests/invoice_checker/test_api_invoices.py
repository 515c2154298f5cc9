"""The invoice list's fast path: pages, totals, reused statements and autocommit reads."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.api.invoices import InvoiceListItem
from invoice_checker.domain.scopes import ProjectReach, Scope
from invoice_checker.store.invoice_list import (
    InvoiceFilters,
    invoice_page,
    page_statement,
)
from service_kit.db import autocommit_connection
from service_kit.pagination import Page
from tests.invoice_checker.invoice_factories import bearer, make_invoice, make_project, make_token

EVERY_PROJECT = Scope(email="finance@example.com", reach=ProjectReach.ALL, sees_sick_leave=False)

MONTH = date(2032, 3, 1)  # a month no other test uses


async def test_pages_carry_the_total_of_every_match(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    tag = uuid.uuid4().hex[:6]
    invoices = []
    for name in ["Alpha", "Beta", "Gamma"]:
        project = await make_project(db_session, name=name, client=f"{name} {tag}")
        invoices.append(await make_invoice(db_session, project, MONTH))
    finance = bearer(await make_token(db_session, "finance"))

    async def page(number: int) -> dict[str, object]:
        response = await ic_client.get(
            "/api/v1/invoices",
            params={"month": "2032-03", "page": number, "page_size": 2, "sort": "project"},
            headers=finance,
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        Page[InvoiceListItem].model_validate_json(response.content, strict=True)
        body: dict[str, object] = response.json()
        return body

    first, second, beyond = await page(1), await page(2), await page(3)
    assert [item["id"] for item in first["items"]] == [str(i.id) for i in invoices[:2]]  # type: ignore[attr-defined]
    assert [item["id"] for item in second["items"]] == [str(invoices[2].id)]  # type: ignore[attr-defined]
    assert (first["total"], second["total"], beyond["total"], beyond["items"]) == (3, 3, 3, [])
    assert (second["page"], second["page_size"]) == (2, 2)
    item = first["items"][0]  # type: ignore[index]
    assert list(item) == list(InvoiceListItem.model_fields)  # keys in the documented order
    assert item["project"]["name"] == "Alpha" and item["project"]["client"] == f"Alpha {tag}"


# A page past any offset (PostgreSQL refuses it) and a client id past any integer column
# (asyncpg refuses it itself: the page is fetched on the driver's connection).
@pytest.mark.parametrize("extreme", [{"page": 10**19}, {"client": 2**40}])
async def test_numbers_past_what_postgresql_holds_are_4xx(
    ic_client: httpx.AsyncClient, db_session: AsyncSession, extreme: dict[str, int]
) -> None:
    finance = bearer(await make_token(db_session, "finance"))
    response = await ic_client.get(
        "/api/v1/invoices", params={"month": "2032-03", **extreme}, headers=finance
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:problem:invalid-value"


def test_a_statement_is_built_once_per_filter_combination_and_sort() -> None:
    # Reused statements keep SQLAlchemy from rebuilding and re-hashing them per request.
    assert page_statement(("month",), "-month") is page_statement(("month",), "-month")
    assert page_statement(("month",), "-month") is not page_statement(("month",), "month")
    assert page_statement(("month",), "hours") is not page_statement(("month", "tag"), "hours")


def test_only_the_filters_in_use_are_bound() -> None:
    filters = InvoiceFilters(month=MONTH, states=("A", "S"), has_problems=False)
    assert filters.in_use() == {"month": MONTH, "states": ("A", "S"), "has_problems": False}
    assert InvoiceFilters().in_use() == {}


async def _server_transaction_open(connection: AsyncConnection) -> bool:
    raw = await connection.get_raw_connection()
    return bool(raw.driver_connection.is_in_transaction())  # type: ignore[union-attr]


async def test_a_fresh_session_reads_in_autocommit(engine: AsyncEngine) -> None:
    """One round trip: no BEGIN and ROLLBACK around the list's single statement."""
    async with async_sessionmaker(engine)() as session:
        found = await invoice_page(
            session, InvoiceFilters(month=MONTH), "-month", scope=EVERY_PROJECT, limit=5, offset=0
        )
        assert (found.rows, found.total) == ([], 0)
        assert not await _server_transaction_open(await autocommit_connection(session))


async def test_a_session_in_a_transaction_reads_in_it(
    engine: AsyncEngine, db_session: AsyncSession
) -> None:
    async with async_sessionmaker(engine)() as session:
        await session.execute(text("SELECT 1"))  # begun, as after a principal lookup
        assert await _server_transaction_open(await autocommit_connection(session))
    # A test session joined to an outer transaction sees that transaction's rows.
    project = await make_project(db_session, name="Joined", client=f"J {uuid.uuid4().hex[:6]}")
    invoice = await make_invoice(db_session, project, MONTH)
    found = await invoice_page(
        db_session, InvoiceFilters(month=MONTH), "-month", scope=EVERY_PROJECT, limit=5, offset=0
    )
    assert [row[0] for row in found.rows] == [invoice.id] and found.total == 1
