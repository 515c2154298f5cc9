"""Submitting my hours in a real browser: the Slack notice's "Submit your hours" page, its Submit
button, 10000ft's answer per entry, and the entries pending approval in the stand-in and here."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.domain import hour_submission as rules
from invoice_checker.jobs.sync import sync_hours
from invoice_checker.simulators.tenkfeet import TenkfeetWorld
from invoice_checker.store.auth import ensure_user
from invoice_checker.store.hours import HourEntry
from tests.invoice_checker.sync_support import in_process_client
from tests.web.conftest import Person
from tests.web.test_monthly_check import sign_in

ALICE = "alice.admin@example.com"  # user 101 of the vector; entry 3 (2018) is unsubmitted
RECENT_ID, OTHER_ID = 7001, 7002


def _recent_entry(entry_id: int, day: date, hours: float) -> dict[str, Any]:
    stamp = f"{day.isoformat()}T15:00:00Z"
    return {
        "id": entry_id,
        "assignable_id": 1001,
        "assignable_type": "Project",
        "user_id": 101,
        "bill_rate": 100.0,
        "bill_rate_id": None,
        "date": day.isoformat(),
        "hours": hours,
        "scheduled_hours": None,
        "notes": "Checkout flow",
        "task": "Coding",
        "is_suggestion": False,
        "created_at": stamp,
        "updated_at": stamp,
        "approvals": {"data": []},
    }


@pytest_asyncio.fixture
async def recent_hours(
    engine: AsyncEngine, tenkfeet_world: TenkfeetWorld, synced_month: dict[str, Any]
) -> AsyncIterator[date]:
    """Alice marked two entries last week in 10000ft; they are synced here. One of them will
    change in 10000ft before she submits."""
    day = date.today() - timedelta(days=7)
    tenkfeet_world.change_day(
        day,
        "add",
        {"entries": [_recent_entry(RECENT_ID, day, 6.5), _recent_entry(OTHER_ID, day, 1.0)]},
    )
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with in_process_client(tenkfeet_world) as client:
        await sync_hours(maker, client, day, day)
    async with maker() as session:
        await ensure_user(session, ALICE, groups=["employee"])
        await session.commit()
    yield day
    tenkfeet_world.change_day(day, "empty", {})
    async with maker() as session:
        await session.execute(delete(HourEntry).where(HourEntry.date == day))
        await session.commit()


async def test_submit_my_hours(
    open_person: Any,
    web_url: str,
    engine: AsyncEngine,
    tenkfeet_world: TenkfeetWorld,
    recent_hours: date,
) -> None:
    alice: Person = await open_person()
    page = alice.page
    # The "Submit your hours" button of the Slack notice opens this page (after signing in).
    await sign_in(alice, web_url, ALICE, "/you/hours/unsubmitted")
    await expect(page).to_have_url(f"{web_url}/you/hours/unsubmitted")
    await expect(page.get_by_role("heading", level=1)).to_have_text("My unsubmitted hours")
    await expect(page.get_by_role("row", name=re.compile(recent_hours.isoformat()))).to_have_count(
        2
    )
    await alice.shot("unsubmitted-before")

    # Meanwhile the 1-hour entry is edited in 10000ft: its timestamp no longer matches ours.
    tenkfeet_world.change_day(
        recent_hours,
        "update",
        {"id": OTHER_ID, "changes": {"updated_at": f"{date.today().isoformat()}T08:00:00Z"}},
    )
    await page.get_by_role("button", name="Submit", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hours submitted")
    await expect(page.get_by_role("status")).to_contain_text(
        "1 entry was submitted to 10000ft for approval; 2 could not be."
    )
    results = page.get_by_role("row")
    await expect(results.filter(has_text="6.50")).to_contain_text("Submitted")
    await expect(
        results.filter(has_text="1.00").filter(has_text=recent_hours.isoformat())
    ).to_contain_text(rules.STALE)
    await expect(results.filter(has_text="2018-02-06")).to_contain_text(rules.TOO_OLD)
    await alice.shot("unsubmitted-submitted")
    await alice.shot("unsubmitted-submitted-375", width=375)

    # In 10000ft the entry now waits for approval, and here it is Pending Approval.
    found = tenkfeet_world.find_entry(RECENT_ID)
    assert found is not None
    assert [a["status"] for a in found[1]["approvals"]["data"]] == ["pending"]
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        statuses = dict(
            (
                await session.execute(
                    select(HourEntry.upstream_id, HourEntry.status).where(
                        HourEntry.upstream_id.in_([RECENT_ID, OTHER_ID])
                    )
                )
            ).all()
        )
    assert statuses == {RECENT_ID: "Pending Approval", OTHER_ID: "Unsubmitted"}

    await page.get_by_role("link", name="Back to my unsubmitted hours").click()
    await expect(page.get_by_role("row", name=re.compile(recent_hours.isoformat()))).to_have_count(
        1
    )
