"""The one stats recomputation in SQL: hours, fixed rows, AWS rows, currencies kept apart."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.aws import AmazonInvoiceRow, AmazonLinkedAccount, ProjectAmazonAccount
from invoice_checker.store.checking import CommentInput, add_comment, aws_rows, get_invoice
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.workflow import InvoiceCurrencyTotal, ProjectFixedRow
from tests.invoice_checker.invoice_factories import add_entries, make_invoice, make_project
from tests.invoice_checker.invoice_vectors import invoice_vectors

CASE = invoice_vectors()["invoice_stats_with_fixed_and_aws"]
RATES = [100.0, 100.0, 180.0, 100.0, 100.0]  # as the vector's phase sections show


async def vector_invoice(session: AsyncSession) -> Invoice:
    project = await make_project(session, name="Webshop")
    invoice = await make_invoice(session, project, date(2018, 2, 1))
    await add_entries(
        session,
        invoice,
        *[
            {
                "date": date.fromisoformat(row["date"]),
                "hours": row["hours"],
                "bill_rate": rate,
                "phase_name": row["phase_name"],
                "status": row["status"],
            }
            for row, rate in zip(CASE["inputs"]["hour_entries"], RATES, strict=True)
        ],
    )
    for description, price in CASE["inputs"]["project_fixed_entries"]:
        session.add(
            ProjectFixedRow(project_guid=project.guid, description=description, price=price)
        )
    account = CASE["inputs"]["aws_linked_accounts_of_project"][0]
    session.add(AmazonLinkedAccount(linked_account_id=account, name="acme-webshop-prod"))
    await session.flush()
    session.add(ProjectAmazonAccount(project_guid=project.guid, linked_account_id=account))
    session.add(
        AmazonInvoiceRow(
            record_id="total-1-2018-02-01",
            invoice_month=date(2018, 2, 1),
            linked_account_id=account,
            record_type="AccountTotal",
            billing_period_start=datetime(2018, 2, 1, tzinfo=UTC),
            billing_period_end=datetime(2018, 2, 28, 23, 59, 59, tzinfo=UTC),
            product_code="",
            usage_type="",
            item_description="Total for linked account",
            total_cost=8.7087,
            currency="USD",
        )
    )
    await session.flush()
    return invoice


async def totals_of(session: AsyncSession, invoice: Invoice) -> dict[str, float]:
    rows = await session.execute(
        select(InvoiceCurrencyTotal).where(InvoiceCurrencyTotal.invoice_id == invoice.id)
    )
    return {row.currency: row.amount for row in rows.scalars()}


async def test_refresh_matches_the_vector_with_currencies_apart(db_session: AsyncSession) -> None:
    invoice = await vector_invoice(db_session)
    assert await refresh_invoice_stats(db_session, months=[date(2018, 2, 14)]) >= 1
    stored = await get_invoice(db_session, invoice.id)
    assert stored is not None
    expected = CASE["expected_invoice_row_after_refresh"]
    for column, value in expected.items():
        if column == "incurred_money":
            continue
        assert getattr(stored, column) == pytest.approx(value), column
    # Bug 15.4 fixed on purpose: the original stored 2018.7087 (EUR + USD unconverted).
    assert stored.incurred_money == pytest.approx(2010.0)
    assert await totals_of(db_session, invoice) == pytest.approx({"EUR": 2010.0, "USD": 8.7087})
    assert [(r.account_name, r.price, r.currency) for r in await aws_rows(db_session, stored)] == [
        ("acme-webshop-prod", 8.7087, "USD")
    ]


async def test_invoiced_invoices_keep_their_frozen_rows(db_session: AsyncSession) -> None:
    invoice = await vector_invoice(db_session)
    await add_comment(
        db_session,
        invoice,
        CommentInput(checked=True, invoice_number="42"),
        actor="f@example.com",
        may_change_invoicing=True,
    )
    row = (
        await db_session.execute(
            select(ProjectFixedRow).where(ProjectFixedRow.project_guid == invoice.project_guid)
        )
    ).scalar_one()
    row.price = 900.0
    await db_session.flush()
    await refresh_invoice_stats(db_session, invoice_ids=[invoice.id])
    assert (await totals_of(db_session, invoice))["EUR"] == pytest.approx(2010.0)
    await add_comment(
        db_session,
        invoice,
        CommentInput(checked=True),
        actor="f@example.com",
        may_change_invoicing=True,
    )
    assert (await totals_of(db_session, invoice))["EUR"] == pytest.approx(1510.0 + 900.0)


async def test_no_category_is_stored_and_an_empty_invoice_is_zeroed(
    db_session: AsyncSession,
) -> None:
    """Bug 15.3: the original never stored no_category_count."""
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 3, 1))
    await add_entries(
        db_session,
        invoice,
        {"category": "No category", "calculated_has_category": False},
        {"hours": 2, "status": "Unsubmitted", "calculated_has_category": False},
    )
    await refresh_invoice_stats(db_session, invoice_ids=[invoice.id])
    stored = await get_invoice(db_session, invoice.id)
    assert stored is not None
    assert (stored.no_category_count, stored.incorrect_entries_count) == (1, 1)
    assert stored.total_entries == 1
    empty = await make_invoice(db_session, project, date(2026, 4, 1))
    await refresh_invoice_stats(db_session, invoice_ids=[empty.id])
    again = await get_invoice(db_session, empty.id)
    assert again is not None
    assert (again.incurred_hours, again.bill_rate_avg, again.billable_percentage) == (0, 0, 0)
    assert await totals_of(db_session, empty) == {"EUR": 0.0}


@pytest.mark.parametrize("callers_setting", ["on", "off"])
async def test_a_month_refresh_leaves_the_callers_join_setting_as_it_was(
    db_session: AsyncSession, callers_setting: str
) -> None:
    """A whole-month refresh runs without nested loops, then gives the transaction back as it
    found it."""
    await db_session.execute(text(f"SET LOCAL enable_nestloop = {callers_setting}"))
    await refresh_invoice_stats(db_session, months=[date(2018, 2, 1)])
    assert await db_session.scalar(text("SHOW enable_nestloop")) == callers_setting
