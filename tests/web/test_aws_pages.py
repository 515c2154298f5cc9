"""AWS accounts in a real browser: the month's costs and split, linking an account to a project
(its invoice gets the costs), unlinking, queueing an import; and who may not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.domain.aws_billing import ACCOUNT_TOTAL
from invoice_checker.store.auth import ensure_user
from invoice_checker.store.aws import AmazonInvoiceRow, AmazonLinkedAccount, ProjectAmazonAccount
from invoice_checker.store.checking import currency_totals
from invoice_checker.store.directory import Project
from invoice_checker.store.invoices import Invoice
from tests.web.conftest import FINANCE, TEAM_LEAD, Person
from tests.web.test_monthly_check import sign_in

MARCH = date(2018, 3, 1)
ADMIN = "alice.admin@example.com"  # no invoices of the synced month are touched


@pytest_asyncio.fixture
async def aws_month(engine: AsyncEngine, synced_month: dict[str, Any]) -> AsyncIterator[Any]:
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        for account_id, name, cost in (
            ("111111111111", "sales-demo", 42.5),
            ("222222222222", "old-test", 3.2),
        ):
            session.add(AmazonLinkedAccount(linked_account_id=account_id, name=name))
            await session.flush()
            session.add(
                AmazonInvoiceRow(
                    record_id=f"total-{account_id}-2018-03-01",
                    invoice_month=MARCH,
                    linked_account_id=account_id,
                    record_type=ACCOUNT_TOTAL,
                    billing_period_start=datetime(2018, 3, 1, tzinfo=UTC),
                    billing_period_end=datetime(2018, 3, 31, 23, 59, 59, tzinfo=UTC),
                    product_code="",
                    usage_type="",
                    item_description="Total for linked account",
                    total_cost=cost,
                    currency="USD",
                )
            )
        project = await session.scalar(select(Project).where(Project.name == "Sales work"))
        await session.commit()
    assert project is not None
    yield project
    async with maker() as session:
        await session.execute(delete(ProjectAmazonAccount))
        await session.execute(delete(AmazonInvoiceRow))
        await session.execute(delete(AmazonLinkedAccount))
        await session.execute(delete(Invoice).where(Invoice.date == MARCH))
        await session.commit()


async def test_finance_reads_and_an_admin_links_an_account_to_a_project(
    open_person: Any, web_url: str, engine: AsyncEngine, aws_month: Project
) -> None:
    # Finance reads the costs; linking is the operations API's, for can_manage_access.
    finance: Person = await open_person()
    await sign_in(finance, web_url, FINANCE)
    await finance.page.goto(f"{web_url}/aws/111111111111")
    await expect(finance.page.get_by_role("heading", level=1)).to_contain_text("sales-demo")
    await expect(finance.page.get_by_role("button", name="Link project")).to_have_count(0)
    async with async_sessionmaker(engine)() as session:
        await ensure_user(session, ADMIN, groups=["admin"])
        await session.commit()
    admin: Person = await open_person()
    page = admin.page
    await sign_in(admin, web_url, ADMIN)
    await page.get_by_role("link", name="AWS").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("AWS accounts")
    await page.goto(f"{web_url}/aws?month=2018-03")
    demo = page.get_by_role("row", name=re.compile("^sales-demo"))
    await expect(demo).to_contain_text("not linked")
    await expect(demo).to_contain_text("42.50\u00a0USD")
    await expect(page.locator("dl.facts")).to_contain_text("2 not linked")
    await admin.shot("aws")

    await demo.get_by_role("link", name="sales-demo").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("AWS account sales-demo")
    await page.get_by_label("Project").select_option(label="[none] – Sales work")
    await page.get_by_role("button", name="Link project").click()
    await expect(page.get_by_role("status")).to_have_text("Linked.")
    await expect(page.get_by_role("link", name="[none] – Sales work")).to_be_visible()
    await admin.shot("aws-account")

    # The project's March invoice exists now and carries the account's costs.
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        invoice = await session.scalar(
            select(Invoice).where(Invoice.project_guid == aws_month.guid, Invoice.date == MARCH)
        )
        assert invoice is not None
        assert (await currency_totals(session, [invoice.id]))[invoice.id]["USD"] == 42.5

    await page.get_by_role("button", name="Unlink Sales work").click()
    await expect(page.get_by_role("status")).to_have_text("Unlinked.")
    await expect(page.get_by_text("Not billed on any project.")).to_be_visible()

    await page.goto(f"{web_url}/aws?month=2018-03")
    await page.get_by_role("textbox", name="Month").fill("2018-03")
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("status")).to_have_text("The import of 2018-03 is queued.")


async def test_team_leads_do_not_see_aws(
    open_person: Any, web_url: str, aws_month: Project
) -> None:
    lead: Person = await open_person()
    await sign_in(lead, web_url, TEAM_LEAD)
    await expect(lead.page.get_by_role("link", name="AWS")).to_have_count(0)
    for path in ("/aws", "/aws/111111111111"):
        lead.problems.allowed.add((f"{web_url}{path}", 403))
        answer = await lead.page.goto(f"{web_url}{path}")
        assert answer is not None and answer.status == 403
