"""People and a person's page in a real browser: search by name, a month's figures, a person's
hours per project; an employee reaches only their own page."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.store.directory import TenkfeetUser
from tests.web.conftest import EMPLOYEE, FINANCE, TEAM_LEAD, Person
from tests.web.test_monthly_check import sign_in


async def _guids(engine: AsyncEngine) -> dict[str, Any]:
    async with async_sessionmaker(engine)() as session:
        users = (await session.execute(select(TenkfeetUser))).scalars()
        return {u.email: u.guid for u in users}


async def test_people_and_a_person(
    open_person: Any, web_url: str, engine: AsyncEngine, synced_month: dict[str, Any]
) -> None:
    guids = await _guids(engine)
    finance: Person = await open_person()
    page = finance.page
    await sign_in(finance, web_url, FINANCE)
    await page.goto(f"{web_url}/people?month=2018-02")
    await expect(page.get_by_role("heading", level=1)).to_have_text("People, 2018-02")
    await page.get_by_label("Name").fill("carol")
    await page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("row")
    await expect(rows).to_have_count(2)  # the header and Carol
    await finance.shot("people")
    await rows.get_by_role("link", name=re.compile("Carol")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Carol")
    await expect(page.get_by_role("row", name="Solinor – Solinor 7.50 0.00 0.0 %")).to_be_visible()
    await finance.shot("person")

    # A team lead sees Bob's own page; an employee only their own (others: not found).
    lead: Person = await open_person()
    await sign_in(lead, web_url, TEAM_LEAD)
    await lead.page.goto(f"{web_url}/users/{guids[TEAM_LEAD]}?month=2018-02")
    await expect(lead.page.get_by_role("heading", level=1)).to_contain_text("Bob")
    employee: Person = await open_person()
    await sign_in(employee, web_url, EMPLOYEE)
    other = f"{web_url}/users/{guids[TEAM_LEAD]}?month=2018-02"
    employee.problems.allowed.update({(other, 404), (f"{web_url}/people", 403)})
    answer = await employee.page.goto(other)
    assert answer is not None and answer.status == 404
    answer = await employee.page.goto(f"{web_url}/people")
    assert answer is not None and answer.status == 403
