"""Flex hours in a real browser: a person's own page (where the Slack flex notice links), an
admin's view of anyone's page with the contract and correction forms, everyone's saldo on /flex,
and the refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.store.auth import ensure_user
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.flex import FlexTimeCorrection, WorkContract
from tests.web.conftest import EMPLOYEE, TEAM_LEAD, Person
from tests.web.test_monthly_check import sign_in

ADMIN = "alice.admin@example.com"  # a 10000ft user of the vector; the test makes her admin


@pytest_asyncio.fixture
async def flex_people(
    engine: AsyncEngine, synced_month: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """Bob works under a contract for the first quarter of 2018; Alice is an admin."""
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        users = {u.email: u for u in (await session.execute(select(TenkfeetUser))).scalars()}
        bob, carol = users[TEAM_LEAD], users["carol.coder@example.com"]
        session.add(
            WorkContract(
                user_guid=bob.guid, start_date=date(2018, 1, 1), end_date=date(2018, 3, 31)
            )
        )
        await ensure_user(session, ADMIN, groups=["admin"])
        await session.commit()
    yield {"bob": bob.guid, "carol": carol.guid}
    async with maker() as session:
        await session.execute(delete(WorkContract))
        await session.execute(delete(FlexTimeCorrection))
        await session.commit()


async def test_my_flex_hours_and_the_refusals(
    open_person: Any, web_url: str, flex_people: dict[str, Any]
) -> None:
    bob: Person = await open_person()
    page = bob.page
    # The Slack notice's link, signed out: sign in first, then the page.
    await page.goto(f"{web_url}/you/flexhours")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fyou%2Fflexhours$"))
    await sign_in(bob, web_url, TEAM_LEAD, "/you/flexhours")
    await expect(page).to_have_url(f"{web_url}/you/flexhours")
    await expect(page.get_by_role("heading", level=1)).to_have_text("My flex hours")
    # 2018 Q1 has 65 weekdays (no holidays in the vector): 487.5 h expected. Bob worked 4 h on
    # 5 February (his other 3 h are overtime, not counted) and KIKY takes 3 × 2 h.
    saldo = page.locator(".saldo-value")
    await expect(saldo).to_have_text("-489.50 h")
    await expect(saldo).to_have_class(re.compile("band-below"))
    await expect(page.get_by_role("img", name="Flex saldo month by month")).to_be_visible()
    months = page.get_by_role("row", name=re.compile(r"^2018-0[1-3] "))
    await expect(months).to_have_count(3)
    await expect(months.first).to_contain_text("2018-03")  # newest first
    log = page.get_by_role("row", name=re.compile(r"^2018-02-05 "))
    await expect(log).to_contain_text(
        "Weekday, 7.50 h expected, 4.00 h worked, 3.00 h overtime (not counted)"
    )
    await expect(page.get_by_role("row", name=re.compile(r"^2018-03-31 Weekend"))).to_be_visible()
    # Contracts are shown, but only an admin edits them.
    contracts = page.get_by_role("table").filter(has=page.get_by_text("Work time %"))
    await expect(contracts.get_by_role("row", name="2018-01-01 2018-03-31 yes 100")).to_be_visible()
    await expect(page.get_by_role("button", name="Add contract")).to_have_count(0)
    await bob.shot("flexhours-own")
    await bob.shot("flexhours-own-375", width=375)

    # Someone else's flex hours and everyone's saldo are not for a team lead.
    carol = f"{web_url}/users/{flex_people['carol']}/flexhours"
    bob.problems.allowed.update({(carol, 403), (f"{web_url}/flex", 403)})
    answer = await page.goto(carol)
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("heading", name="Forbidden")).to_be_visible()
    answer = await page.goto(f"{web_url}/flex")
    assert answer is not None and answer.status == 403

    # A signed-in person without a 10000ft user gets a page saying so.
    employee: Person = await open_person()
    await sign_in(employee, web_url, EMPLOYEE)
    employee.problems.allowed.add((f"{web_url}/you/flexhours", 404))
    answer = await employee.page.goto(f"{web_url}/you/flexhours")
    assert answer is not None and answer.status == 404
    await expect(employee.page.get_by_text("No 10000ft user has your e-mail")).to_be_visible()


async def test_admin_sees_everyone_and_corrects_a_saldo(
    open_person: Any, web_url: str, flex_people: dict[str, Any]
) -> None:
    admin: Person = await open_person()
    page = admin.page
    await sign_in(admin, web_url, ADMIN, "/flex")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Everyone's flex saldo")
    # Bob's saldo is computed; the others have no contract, each listed with the reason.
    bob_row = page.get_by_role("row", name=re.compile("Bob Builder"))
    await expect(bob_row.first).to_contain_text("-489.50")
    await expect(bob_row.first).to_contain_text("below −40 h")
    not_computed = page.get_by_role("row", name=re.compile("Carol Coder"))
    await expect(not_computed).to_contain_text("No work contracts: flex is not in use.")
    await admin.shot("flex-overview")

    await bob_row.first.get_by_role("link").click()
    await expect(page).to_have_url(f"{web_url}/users/{flex_people['bob']}/flexhours")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Flex hours of Bob Builder")
    # Add 12.5 h on 1 March.
    await page.get_by_label("Date", exact=True).fill("2018-03-01")
    await page.get_by_label("Kind").select_option("adjust_by")
    await page.get_by_label("Hours").fill("12.5")
    await page.get_by_role("button", name="Add correction").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.locator(".saldo-value")).to_have_text("-477.00 h")
    correction = page.get_by_role("row", name=re.compile(r"^2018-03-01 Correction by an admin"))
    await expect(correction).to_contain_text("12.50")
    await admin.shot("flexhours-admin")
    await page.get_by_role("button", name="Delete correction 2018-03-01").click()
    await expect(page.locator(".saldo-value")).to_have_text("-489.50 h")
    await expect(page.get_by_text("No corrections.")).to_be_visible()
