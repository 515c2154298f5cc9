"""The monthly check in a real browser, against a month synced from the 10000ft stand-in: a team
lead signs in, finds and approves their invoice; finance enters the invoice number and marks it
sent; the invoice is frozen. And the refusals: other projects' invoices, employees."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.web.conftest import EMPLOYEE, FINANCE, TEAM_LEAD, Person

# The Solinor project's invoice (led by Carol) is another project's for Bob.
OTHER_PROJECT = "Solinor"


async def sign_in(person: Person, web_url: str, email: str, next_path: str = "/") -> None:
    await person.page.goto(f"{web_url}/sign-in?login_hint={email}&next={next_path}")
    await expect(person.page.get_by_text(email).first).to_be_visible()


async def invoice_url(person: Person, web_url: str, project: str, month: str) -> str:
    await person.page.goto(f"{web_url}/invoices?month={month}&show=all")
    link = person.page.get_by_role("link", name=project, exact=True)
    return f"{web_url}{await link.get_attribute('href')}"


async def test_team_lead_approves_and_finance_sends(open_person: Any, web_url: str) -> None:
    lead: Person = await open_person()
    page = lead.page

    # Signed out, a page sends the browser to sign in, and back after (two clicks).
    await page.goto(f"{web_url}/")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await lead.shot("sign-in")
    await page.get_by_role("link", name="Sign in", exact=True).last.click()
    await expect(page).to_have_url(f"{web_url}/")

    # The front page lists the lead's unapproved invoices, of any month.
    waiting = page.get_by_role("region", name=re.compile("invoices to approve"))
    await expect(
        waiting.get_by_role("row", name=re.compile("2018-02 ACME Oy Webshop"))
    ).to_be_visible()
    await expect(waiting.get_by_text("Solinor")).to_have_count(0)
    await lead.shot("front-team-lead")
    await lead.shot("front-team-lead-375", width=375)

    await waiting.get_by_role("row", name=re.compile("2018-02")).get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("ACME Oy – Webshop, 2018-02")
    await lead.shot("invoice-before-approval")
    # Three problems on two entries, each with why it is flagged.
    incorrect = page.get_by_role("region", name="Incorrect entries (2)")
    await expect(incorrect.get_by_role("row")).to_have_count(3)  # and the header
    for reason in ("Not billable", "No description", "No category"):
        await expect(incorrect.get_by_role("listitem").filter(has_text=reason)).to_have_count(1)
    for name in ("CSV", "XLSX", "PDF"):
        await expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    href = await page.get_by_role("link", name="CSV").get_attribute("href")
    csv = await page.request.get(f"{web_url}{href}")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    # A team lead checks but does not invoice: no invoice number field for them.
    await expect(page.get_by_label("Invoice number")).to_have_count(0)
    await lead.shot("invoice-before-approval")

    await page.get_by_role("button", name="Approve", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.locator(".state").first).to_have_text("Approved")
    await expect(page.get_by_role("button", name="Unapprove")).to_be_visible()
    approved_url = page.url.split("?")[0]
    await lead.shot("invoice-approved")
    await lead.shot("invoice-approved-375", width=375)

    # Finance finds it among the approved invoices to send, numbers it and marks it sent.
    finance: Person = await open_person()
    await sign_in(finance, web_url, FINANCE)
    to_send = finance.page.get_by_role("region", name=re.compile("Approved invoices to send"))
    await expect(
        to_send.get_by_role("row", name=re.compile("2018-02 ACME Oy Webshop"))
    ).to_be_visible()
    await finance.shot("front-finance")
    await finance.page.goto(approved_url)
    await finance.page.get_by_label("Description").last.fill("Monthly maintenance")
    await finance.page.get_by_label("Price").last.fill("500")
    await finance.page.get_by_role("button", name="Add row").click()
    fixed = finance.page.get_by_role("region", name="Fixed rows and AWS costs")
    await expect(fixed.get_by_role("cell", name="Monthly maintenance")).to_be_visible()
    await finance.page.get_by_label("Invoice number").fill("2018-0042")
    await finance.page.get_by_label("Sent").check()
    await finance.page.get_by_role("button", name="Save invoicing").click()
    await expect(finance.page.locator(".state").first).to_have_text("Sent")

    # Frozen: the fixed rows cannot change any more, and the page offers no such form.
    await expect(finance.page.get_by_text("Frozen")).to_be_visible()
    await expect(finance.page.get_by_role("button", name="Add row")).to_have_count(0)
    await expect(finance.page.get_by_label("Invoice number")).to_have_value("2018-0042")
    await finance.shot("invoice-sent")
    await finance.page.goto(approved_url)  # from the top, for README's picture (docs/)
    await finance.shot("invoice-page", width=1100, height=1500, full_page=False)
    await finance.page.goto(f"{web_url}/invoices?month=2018-02")
    row = finance.page.get_by_role("row", name=re.compile("ACME Oy Webshop"))
    await expect(row.locator(".state")).to_have_text("Sent")
    await finance.shot("invoices-finance")
    await finance.shot("invoices-finance-375", width=375)

    # The lead's page follows: sent, the row frozen.
    await page.goto(approved_url)
    await expect(page.locator(".state").first).to_have_text("Sent")
    await expect(page.get_by_text("Frozen")).to_be_visible()


async def test_refusals_are_pages(open_person: Any, web_url: str) -> None:
    employee: Person = await open_person()
    await sign_in(employee, web_url, EMPLOYEE)
    await expect(employee.page.get_by_role("link", name="Invoices")).to_have_count(0)
    await employee.shot("front-employee")
    employee.problems.allowed.add((f"{web_url}/invoices?month=2018-02", 403))
    answer = await employee.page.goto(f"{web_url}/invoices?month=2018-02")
    assert answer is not None and answer.status == 403
    await expect(employee.page.get_by_role("heading", name="Forbidden")).to_be_visible()
    await employee.shot("refused-employee-invoices")

    finance: Person = await open_person()
    await sign_in(finance, web_url, FINANCE)
    other = await invoice_url(finance, web_url, OTHER_PROJECT, "2018-02")
    employee.problems.allowed.add((other, 403))
    answer = await employee.page.goto(other)
    assert answer is not None and answer.status == 403

    # Not found is a page too, never JSON.
    missing = f"{web_url}/invoices/00000000-0000-0000-0000-000000000000"
    finance.problems.allowed.add((missing, 404))
    answer = await finance.page.goto(missing)
    assert answer is not None and answer.status == 404
    assert (answer.headers["content-type"]).startswith("text/html")
    await expect(finance.page.get_by_role("heading", name="Not Found")).to_be_visible()
    await finance.shot("not-found")


async def test_team_lead_cannot_reach_another_projects_invoice(
    open_person: Any, web_url: str
) -> None:
    finance: Person = await open_person()
    await sign_in(finance, web_url, FINANCE)
    other = await invoice_url(finance, web_url, OTHER_PROJECT, "2018-02")

    lead: Person = await open_person()
    await sign_in(lead, web_url, TEAM_LEAD)
    lead.problems.allowed.add((other, 404))
    answer = await lead.page.goto(other)
    assert answer is not None and answer.status == 404
    await lead.shot("refused-team-lead-other-invoice")


BOB_GUID = "22222222-2222-2222-2222-222222222222"


async def test_every_page_for_each_role(open_person: Any, web_url: str) -> None:
    lead: Person = await open_person()
    await sign_in(lead, web_url, TEAM_LEAD)
    page = lead.page

    # The project card on the front page, then its client.
    await page.get_by_role("region", name="Projects you lead").get_by_role("link").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Webshop")
    await expect(page.get_by_role("columnheader", name="Money")).to_be_visible()
    await lead.shot("project")
    await page.get_by_role("link", name="ACME Oy").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("ACME Oy")
    await lead.shot("client")

    # The hour browser, sorted by hours, largest first.
    await page.goto(f"{web_url}/hours?start=2018-01-29&end=2018-02-09")
    await page.get_by_role("link", name="Hours", exact=True).last.click()
    await page.get_by_role("link", name=re.compile("^Hours ▲")).click()
    header = page.get_by_role("columnheader", name=re.compile("^Hours"))
    await expect(header).to_have_attribute("aria-sort", "descending")
    first_row = page.get_by_role("row").nth(1)
    await expect(first_row.get_by_role("cell").nth(5)).to_have_text("7.50")
    await lead.shot("hours")

    # My month: a calendar and my entries.
    await page.goto(f"{web_url}/users/{BOB_GUID}/2018/2")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bob Builder, 2018-02")
    await expect(page.get_by_role("table", name="Hours per day")).to_be_visible()
    await lead.shot("person-month")
    await page.goto(f"{web_url}/you/hours/unsubmitted")
    await expect(page.get_by_role("heading", name="My unsubmitted hours")).to_be_visible()
    await lead.shot("unsubmitted")
    await page.goto(f"{web_url}/syncs")
    await expect(page.get_by_role("button", name="Queue a sync")).to_have_count(0)

    # Finance queues a sync; the list shows it.
    finance: Person = await open_person()
    await sign_in(finance, web_url, FINANCE)
    await finance.page.goto(f"{web_url}/syncs")
    await finance.page.get_by_label("Kind").select_option("projects")
    await finance.page.get_by_role("button", name="Queue a sync").click()
    await expect(finance.page.get_by_role("status")).to_have_text(
        re.compile(r"Sync #\d+ is queued")
    )
    await expect(finance.page.get_by_role("cell", name="queued").first).to_be_visible()
    await finance.shot("syncs")

    # An employee reads a project without money, and only their own month.
    employee: Person = await open_person()
    await sign_in(employee, web_url, EMPLOYEE)
    project_url = lead.page.url  # any page of the lead's; the project's is below
    await lead.page.goto(f"{web_url}/")
    card = lead.page.get_by_role("region", name="Projects you lead").get_by_role("link").first
    project_url = f"{web_url}{await card.get_attribute('href')}"
    await employee.page.goto(project_url)
    await expect(employee.page.get_by_role("heading", level=1)).to_have_text("Webshop")
    await expect(employee.page.get_by_role("columnheader", name="Money")).to_have_count(0)
    await expect(employee.page.get_by_text("€")).to_have_count(0)
    await employee.shot("project-employee")
    someone_else = f"{web_url}/users/{BOB_GUID}/2018/2"  # not theirs: not found, as in the API
    employee.problems.allowed.add((someone_else, 404))
    answer = await employee.page.goto(someone_else)
    assert answer is not None and answer.status == 404

    # Signing out ends the session: pages send the browser to sign in again.
    await employee.page.goto(f"{web_url}/")
    await employee.page.get_by_role("button", name="Sign out").click()
    await expect(employee.page.get_by_role("heading", name="Signed out")).to_be_visible()
    await employee.page.goto(f"{web_url}/invoices")
    await expect(employee.page).to_have_url(re.compile(r"/sign-in\?next="))
