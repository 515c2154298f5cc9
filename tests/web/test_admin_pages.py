"""The admin side of the web app in a real browser: my API tokens (everyone), access
administration (can_manage_access), AWS accounts (finance, admin), Slack notices
(can_send_notifications), with the refusals everyone else gets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.jobs.slack import notice_range
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.auth import ensure_user, issue_credential
from invoice_checker.store.aws import AmazonInvoiceRow, AmazonLinkedAccount
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.hours import HourEntry
from tests.web.conftest import EMPLOYEE, FINANCE, Person
from tests.web.test_monthly_check import sign_in

ADMIN = "ada.admin@example.com"
DEPARTING = "dora.departing@example.com"
AWS_ACCOUNT = "123456789012"


@pytest_asyncio.fixture
async def admins(engine: AsyncEngine, web_url: str) -> AsyncIterator[str]:
    """An admin, and Dora (an employee holding one API token) for the admin to manage."""
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        await ensure_user(session, ADMIN, groups=["admin"], name="Ada Admin")
        dora = await ensure_user(session, DEPARTING, groups=["employee"], name="Dora Departing")
        dora.groups, dora.active = ["employee"], True
        await issue_credential(session, dora, kind="api", name="dora's script")
        await session.commit()
    yield ADMIN


async def me_with(web_url: str, secret: str) -> int:
    async with httpx.AsyncClient(base_url=web_url) as client:
        answer = await client.get("/api/v1/auth/me", headers={"authorization": f"Bearer {secret}"})
        return answer.status_code


async def assert_refused(
    open_person: Any, web_url: str, email: str, link: str, paths: tuple[str, ...], secret: str
) -> Person:
    """`email` sees no nav link to the page, and each path is a 403 refusal page showing
    nothing of `secret`."""
    person: Person = await open_person()
    await sign_in(person, web_url, email)
    await expect(person.page.get_by_role("link", name=link, exact=True)).to_have_count(0)
    for path in paths:
        person.problems.allowed.add((f"{web_url}{path}", 403))
        answer = await person.page.goto(f"{web_url}{path}")
        assert answer is not None and answer.status == 403
        await expect(person.page.get_by_role("heading", name="Forbidden")).to_be_visible()
        await expect(person.page.get_by_text(secret)).to_have_count(0)
    return person


async def test_my_tokens_create_show_once_and_revoke(open_person: Any, web_url: str) -> None:
    employee: Person = await open_person()
    page = employee.page
    await sign_in(employee, web_url, EMPLOYEE)
    await page.get_by_role("link", name="API tokens").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("My API tokens")

    await page.get_by_label("Name").fill("hours export script")
    await page.get_by_label("Days valid").fill("30")
    await page.get_by_role("button", name="Create token").click()
    created = page.get_by_role("status")
    await expect(created).to_contain_text("Token “hours export script” is made")
    secret = await page.get_by_label("Secret").input_value()
    assert len(secret) > 30
    row = page.get_by_role("row").filter(has_text="hours export script")
    await expect(row).to_contain_text("live")
    await employee.shot("tokens-created")
    await employee.shot("tokens-created-375", width=375)
    # The secret works as a bearer token, as the employee.
    assert await me_with(web_url, secret) == 200

    # Shown once: the page again carries no secret.
    await page.goto(f"{web_url}/you/tokens")
    await expect(page.get_by_label("Secret")).to_have_count(0)
    assert secret not in await page.content()

    await row.get_by_role("button", name="Revoke hours export script").click()
    await expect(page.get_by_role("status")).to_contain_text("is revoked")
    await expect(row).to_contain_text("revoked")
    await expect(row.get_by_role("button")).to_have_count(0)
    assert await me_with(web_url, secret) == 401
    await employee.shot("tokens-revoked")

    # A bad form is a page with the reason, not JSON, and nothing is made.
    await page.get_by_label("Name").fill("too long")
    await page.get_by_label("Days valid").evaluate("e => e.removeAttribute('max')")
    await page.get_by_label("Days valid").fill("9999")
    employee.problems.allowed.add((f"{web_url}/you/tokens", 422))
    async with page.expect_response(f"{web_url}/you/tokens") as answer:
        await page.get_by_role("button", name="Create token").click()
    assert (await answer.value).status == 422
    await expect(page.get_by_text("expires_in_days")).to_be_visible()
    await page.goto(f"{web_url}/you/tokens")
    await expect(page.get_by_role("row").filter(has_text="too long")).to_have_count(0)


async def test_admin_manages_people(open_person: Any, web_url: str, admins: str) -> None:
    admin: Person = await open_person()
    page = admin.page
    await sign_in(admin, web_url, ADMIN)
    await page.get_by_role("link", name="Access").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("People and access")
    dora = page.get_by_role("row", name=DEPARTING)
    await expect(dora).to_contain_text("active")
    await expect(dora).to_contain_text("dora's script")
    await admin.shot("admin-people")
    await admin.shot("admin-people-375", width=375)

    # Grant, then revoke, a group.
    await dora.get_by_label(f"Group for {DEPARTING}").select_option("team-lead")
    await dora.get_by_role("button", name=f"Add {DEPARTING}").click()
    await expect(page.get_by_role("status")).to_have_text(f"{DEPARTING} is in team-lead.")
    await expect(
        dora.get_by_role("button", name=f"Remove {DEPARTING} from team-lead")
    ).to_be_visible()
    await dora.get_by_role("button", name=f"Remove {DEPARTING} from team-lead").click()
    await expect(page.get_by_role("status")).to_have_text(f"{DEPARTING} is no longer in team-lead.")
    await expect(dora.get_by_role("button", name=re.compile("from team-lead"))).to_have_count(0)

    # Revoke Dora's token; then deactivate and reactivate her.
    await dora.get_by_role("button", name=f"Revoke token dora's script of {DEPARTING}").click()
    await expect(page.get_by_role("status")).to_contain_text("is revoked")
    await expect(dora).not_to_contain_text("dora's script")
    await dora.get_by_role("button", name=f"Deactivate {DEPARTING}").click()
    await expect(page.get_by_role("status")).to_contain_text(f"{DEPARTING} is deactivated")
    await expect(dora).to_contain_text("deactivated")
    await admin.shot("admin-people-deactivated")
    await dora.get_by_role("button", name=f"Reactivate {DEPARTING}").click()
    await expect(page.get_by_role("status")).to_have_text(f"{DEPARTING} may sign in again.")

    # The API's rule holds on the page: an admin cannot deactivate themself.
    me = page.get_by_role("row", name=ADMIN)
    admin.problems.allowed.add((f"{web_url}/admin/people/deactivate", 409))
    await me.get_by_role("button", name=f"Deactivate {ADMIN}").click()
    await expect(page.get_by_role("heading", name="Conflict")).to_be_visible()
    await expect(page.get_by_text("You cannot deactivate yourself.")).to_be_visible()


async def test_access_page_refuses_others(open_person: Any, web_url: str) -> None:
    for email in (EMPLOYEE, FINANCE):
        person = await assert_refused(
            open_person, web_url, email, "Access", ("/admin/people",), DEPARTING
        )
    await person.shot("refused-finance-admin-people")


@pytest_asyncio.fixture
async def aws_account(engine: AsyncEngine, web_url: str) -> AsyncIterator[str]:
    """One AWS account billed for two months (two rows in February), linked to no project."""
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        await session.merge(AmazonLinkedAccount(linked_account_id=AWS_ACCOUNT, name="Shop prod"))
        for record_id, month, cost in (
            ("r1", date(2018, 1, 1), 40.5),
            ("r2", date(2018, 2, 1), 100.25),
            ("r3", date(2018, 2, 1), 20.0),
        ):
            await session.merge(
                AmazonInvoiceRow(
                    record_id=f"{record_id}{month}",
                    invoice_month=month,
                    linked_account_id=AWS_ACCOUNT,
                    record_type="LinkedLineItem",
                    product_code="AmazonEC2",
                    usage_type="BoxUsage",
                    item_description="EC2 hours",
                    total_cost=cost,
                    currency="USD",
                )
            )
        await session.commit()
    yield AWS_ACCOUNT


async def test_aws_accounts_finance_reads_admin_links_and_imports(
    open_person: Any, web_url: str, admins: str, aws_account: str
) -> None:
    finance: Person = await open_person()
    await sign_in(finance, web_url, FINANCE)
    await finance.page.get_by_role("link", name="AWS", exact=True).click()
    await expect(finance.page.get_by_role("heading", level=1)).to_have_text("AWS accounts")
    row = finance.page.get_by_role("row").filter(has_text=AWS_ACCOUNT)
    await expect(row).to_contain_text("120.25")
    await expect(row).to_contain_text("40.50")
    await expect(row).to_contain_text("none")
    # Finance reads; changing is can_manage_access, as in the API.
    await expect(finance.page.get_by_label("Month to import")).to_have_count(0)
    await row.get_by_role("link", name="Shop prod").click()
    await expect(finance.page.get_by_role("heading", level=1)).to_contain_text("Shop prod")
    await expect(finance.page.get_by_label("Project to link")).to_have_count(0)
    await finance.shot("aws-account-finance")

    admin: Person = await open_person()
    page = admin.page
    await sign_in(admin, web_url, ADMIN)
    await page.goto(f"{web_url}/aws/{AWS_ACCOUNT}")
    costs = page.get_by_role("region", name="Monthly costs")
    await expect(costs.get_by_role("row")).to_have_count(3)
    await expect(costs.get_by_role("row").nth(1)).to_contain_text("2018-02")
    await page.get_by_label("Project to link").select_option(label="ACME Oy – Webshop")
    await page.get_by_role("button", name="Link", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Linked.")
    billed = page.get_by_role("region", name="Billed on these projects")
    await expect(billed.get_by_role("link", name="ACME Oy – Webshop")).to_be_visible()
    await admin.shot("aws-account-linked")
    await admin.shot("aws-account-linked-375", width=375)
    await page.goto(f"{web_url}/aws")
    await expect(page.get_by_role("row").filter(has_text=AWS_ACCOUNT)).to_contain_text(
        "ACME Oy – Webshop"
    )
    await admin.shot("aws-accounts")
    await page.goto(f"{web_url}/aws/{AWS_ACCOUNT}")
    await billed.get_by_role("button", name="Unlink ACME Oy – Webshop").click()
    await expect(page.get_by_role("status")).to_have_text("Unlinked.")
    await expect(billed.get_by_role("link", name="ACME Oy – Webshop")).to_have_count(0)

    await page.goto(f"{web_url}/aws")
    await page.get_by_label("Month to import").fill("2018-02")
    await page.get_by_role("button", name="Import the month").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "The import of 2018-02 is queued (import_aws_billing:"
    )
    await page.get_by_label("Month to import").fill("2018-13")
    admin.problems.allowed.add((f"{web_url}/aws/imports", 422))
    await page.get_by_role("button", name="Import the month").click()
    await expect(page.get_by_text("Give the month as YYYY-MM")).to_be_visible()

    await assert_refused(
        open_person, web_url, EMPLOYEE, "AWS", ("/aws", f"/aws/{AWS_ACCOUNT}"), "Shop prod"
    )


COPIED_ENTRY = 9_000_000_001
SLACK_ID = "UPREVIEW1"


@pytest_asyncio.fixture
async def recent_unsubmitted(engine: AsyncEngine, web_url: str) -> AsyncIterator[str]:
    """A copy of one synced unsubmitted entry dated inside this week's notice range, its person
    given a Slack id; both undone afterwards. Answers the person's e-mail."""
    today = datetime.now(
        ZoneInfo(InvoiceCheckerSettings.model_fields["schedule_timezone"].default)
    ).date()
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        source = await session.scalar(
            select(HourEntry)
            .where(HourEntry.status == EntryStatus.UNSUBMITTED, HourEntry.incurred_hours > 0)
            .order_by(HourEntry.id)
            .limit(1)
        )
        assert source is not None and source.user_guid is not None
        columns = {c.key: getattr(source, c.key) for c in HourEntry.__table__.columns}
        columns.update(id=COPIED_ENTRY, upstream_id=COPIED_ENTRY, date=notice_range(today)[1])
        session.add(HourEntry(**columns))
        person = await session.get_one(TenkfeetUser, source.user_guid)
        email, old_slack_id = person.email, person.slack_id
        person.slack_id = SLACK_ID
        await session.commit()
    yield email
    async with maker() as session:
        await session.execute(delete(HourEntry).where(HourEntry.id == COPIED_ENTRY))
        await session.execute(
            update(TenkfeetUser).where(TenkfeetUser.email == email).values(slack_id=old_slack_id)
        )
        await session.commit()


async def test_notices_preview_then_send(
    open_person: Any, web_url: str, admins: str, recent_unsubmitted: str
) -> None:
    admin: Person = await open_person()
    page = admin.page
    await sign_in(admin, web_url, ADMIN)
    await page.get_by_role("link", name="Notices").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Slack notices")
    await expect(page.get_by_role("row", name=re.compile("Unsubmitted hours"))).to_contain_text(
        "not sent yet"
    )
    await page.get_by_role("link", name="Preview unsubmitted hours notices").click()
    preview = page.get_by_role("region", name="Preview: unsubmitted hours notices")
    message = preview.get_by_role("article", name="Message 1")
    # The recipient by e-mail (their Slack id resolved), the text, the entry listed.
    await expect(message).to_contain_text(f"To: {recent_unsubmitted}")
    await expect(message).to_contain_text("You have unsubmitted hours")
    await expect(message).to_contain_text("Unsubmitted hours in 10000ft")
    await expect(preview.get_by_role("article")).to_have_count(1)
    await admin.shot("notices-preview")
    await admin.shot("notices-preview-375", width=375)
    # Previewing planned nothing: no batch was claimed.
    await expect(page.get_by_role("region", name="Batches sent this period")).to_contain_text(
        "No batch this period yet."
    )
    await preview.get_by_role("button", name="Send these notices now").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "The unsubmitted hours notices are queued (run_scheduled_job:"
    )

    for email in (FINANCE, EMPLOYEE):
        await assert_refused(
            open_person,
            web_url,
            email,
            "Notices",
            ("/admin/notices", "/admin/notices?preview=unsubmitted"),
            recent_unsubmitted,
        )
