"""The admin side of the web app in a real browser: access administration (can_manage_access)
and Slack notices (can_send_notifications), with the refusals everyone else gets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.jobs.slack import notice_range
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.auth import ensure_user, issue_credential
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.hours import HourEntry
from tests.web.conftest import EMPLOYEE, FINANCE, Person
from tests.web.test_monthly_check import sign_in

ADMIN = "ada.admin@example.com"
DEPARTING = "dora.departing@example.com"


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
