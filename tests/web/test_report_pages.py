"""Reports and the hours overview in a real browser, over the month synced from the 10000ft
stand-in: charts with their tables, CSV downloads, links into /hours, and the refusals."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.web.conftest import EMPLOYEE, FINANCE, TEAM_LEAD, Person
from tests.web.test_monthly_check import sign_in


async def test_reports_for_finance(open_person: Any, web_url: str) -> None:
    finance: Person = await open_person()
    page = finance.page
    await sign_in(finance, web_url, FINANCE)
    await page.goto(f"{web_url}/reports/billing-ratio?start=2018-01&end=2018-02")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Billing ratio per person")
    await expect(page.get_by_role("img", name="Billing ratio per person")).to_be_visible()
    table = page.get_by_role("table")
    await expect(table.get_by_role("columnheader")).to_have_text(["Person", "2018-01", "2018-02"])
    # Carol worked 7.5 h + 7.5 h billable and 1.5 h not in February; January 5 h billable.
    carol = table.get_by_role("row", name=re.compile("Carol"))
    await expect(carol).to_have_count(1)
    await finance.shot("report-billing-ratio")
    csv = await page.request.get(page.url + "&format=csv")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = (await csv.text()).splitlines()
    assert lines[0] == "Person,2018-01,2018-02"
    assert len(lines) == 1 + await table.get_by_role("row").count() - 1

    await page.goto(f"{web_url}/reports/company?end=2018-02")
    await expect(page.get_by_role("img", name="Company hours per month")).to_be_visible()
    await expect(page.get_by_role("img", name="Billable money per month")).to_be_visible()
    hours_table = page.get_by_role("table").first
    await expect(hours_table.get_by_role("row", name=re.compile(r"^2018-2 "))).to_be_visible()
    await finance.shot("report-company")
    await finance.shot("report-company-375", width=375)
    money_csv = page.get_by_role("link", name="CSV").last
    response = await page.request.get(f"{web_url}{await money_csv.get_attribute('href')}")
    assert (await response.text()).splitlines()[0] == "Month,Billable money (€)"

    await page.goto(f"{web_url}/reports/clients?end=2018-02")
    await expect(page.get_by_role("img", name="Client share of hours")).to_be_visible()
    await expect(page.get_by_role("row", name=re.compile("^ACME Oy"))).to_be_visible()
    await finance.shot("report-clients")

    await page.goto(f"{web_url}/hours/overview?end=2018-02")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hours overview")
    february = page.get_by_role("row", name=re.compile(r"^2018-02 ")).first
    await expect(february).to_be_visible()
    await finance.shot("hours-overview")
    # A status figure opens the hour browser on those entries.
    await february.get_by_role("link").first.click()
    await expect(page).to_have_url(
        re.compile(r"/hours\?start=2018-02-01&end=2018-02-28&status=Unsubmitted")
    )

    # Sick leaves are for can_see_sick_leaves only: finance is refused.
    finance.problems.allowed.add((f"{web_url}/reports/sick-leaves", 403))
    answer = await page.goto(f"{web_url}/reports/sick-leaves")
    assert answer is not None and answer.status == 403


async def test_employees_get_no_reports(open_person: Any, web_url: str) -> None:
    employee: Person = await open_person()
    await sign_in(employee, web_url, EMPLOYEE)
    await expect(employee.page.get_by_role("link", name="Reports")).to_have_count(0)
    for path in ("/reports/company", "/reports/billing-ratio", "/hours/overview", "/flex"):
        employee.problems.allowed.add((f"{web_url}{path}", 403))
        answer = await employee.page.goto(f"{web_url}{path}")
        assert answer is not None and answer.status == 403, path
    await expect(employee.page.get_by_role("heading", name="Forbidden")).to_be_visible()


async def test_team_leads_get_reports_but_not_every_projects_hours(
    open_person: Any, web_url: str
) -> None:
    lead: Person = await open_person()
    await sign_in(lead, web_url, TEAM_LEAD)
    await lead.page.goto(f"{web_url}/reports/company?end=2018-02")
    await expect(lead.page.get_by_role("img", name="Company hours per month")).to_be_visible()
    # The hours overview counts every project's hours: finance and admin only.
    await expect(lead.page.get_by_role("link", name="Hours overview")).to_have_count(0)
    lead.problems.allowed.add((f"{web_url}/hours/overview", 403))
    answer = await lead.page.goto(f"{web_url}/hours/overview")
    assert answer is not None and answer.status == 403
