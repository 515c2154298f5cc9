"""The team lead's nudge: the unapproved-hours notice links to the project's page, which links
out to approve in 10000ft and lists what is pending."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.store.directory import Project
from tests.web.conftest import EMPLOYEE, TEAM_LEAD, Person
from tests.web.test_monthly_check import sign_in


async def test_lead_goes_from_the_notice_to_the_pending_hours(
    open_person: Any, web_url: str, engine: AsyncEngine, synced_month: Any
) -> None:
    async with async_sessionmaker(engine)() as session:
        webshop = await session.scalar(select(Project).where(Project.project_id == 1000))
    assert webshop is not None
    lead: Person = await open_person()
    page = lead.page
    await sign_in(lead, web_url, TEAM_LEAD)
    await page.goto(f"{web_url}/projects/{webshop.guid}")  # the notice's "Details" button
    out = page.get_by_role("link", name="Approve this project's hours in 10000ft")
    await expect(out).to_have_attribute("href", "https://app.10000ft.com/viewproject?id=1000")
    await lead.shot("project-pending")
    await page.get_by_role("link", name="See the pending entries").click()
    rows = page.get_by_role("row", name=re.compile("Pending Approval"))
    await expect(rows.first).to_be_visible()
    assert await rows.count() == await page.get_by_role("row").count() - 1  # only pending ones

    # An employee sees the project page without the approval links.
    employee: Person = await open_person()
    await sign_in(employee, web_url, EMPLOYEE)
    await employee.page.goto(f"{web_url}/projects/{webshop.guid}")
    await expect(employee.page.get_by_role("heading", level=1)).to_have_text("Webshop")
    await expect(employee.page.get_by_text("Hours waiting for approval")).to_have_count(0)
