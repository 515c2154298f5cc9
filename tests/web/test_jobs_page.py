"""Scheduled jobs in a real browser: schedule, last run and next run of each; run one now (it
lands on the worker's queue); recent events; and only for admins."""

from __future__ import annotations

import re
from typing import Any

from arq.connections import ArqRedis
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from invoice_checker.jobs.queue import QUEUE_NAME
from invoice_checker.store.auth import ensure_user
from tests.web.conftest import FINANCE, Person
from tests.web.test_monthly_check import sign_in

ADMIN = "alice.admin@example.com"


async def test_admin_sees_and_runs_jobs(
    open_person: Any, web_url: str, engine: AsyncEngine, redis: ArqRedis, synced_month: Any
) -> None:
    async with async_sessionmaker(engine)() as session:
        await ensure_user(session, ADMIN, groups=["admin"])
        await session.commit()
    admin: Person = await open_person()
    page = admin.page
    await sign_in(admin, web_url, ADMIN)
    await page.get_by_role("link", name="Jobs").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Scheduled jobs")
    # The month synced for these tests wrote the users sync's event: its last run and result.
    users = page.get_by_role("row", name=re.compile(r"^sync_users "))
    await expect(users).to_contain_text("OK: sync_10000ft_users: added 3")
    await expect(users).to_contain_text("10 3 * * *")
    await expect(users.locator("td.when").last).to_have_text(
        re.compile(r"^\d{4}-\d{2}-\d{2} 03:10$")
    )
    await expect(page.get_by_role("row", name=re.compile(r"^housekeeping "))).to_be_visible()
    await expect(
        page.get_by_role("row", name=re.compile("sync_10000ft_users")).first
    ).to_be_visible()
    await admin.shot("admin-jobs")

    await users.get_by_role("button", name="Run sync_users now").click()
    await expect(page.get_by_role("status")).to_contain_text("sync_users is queued")
    queued = await redis.queued_jobs(queue_name=QUEUE_NAME)
    assert [job.function for job in queued] == ["cron:sync_users"]

    finance: Person = await open_person()
    await sign_in(finance, web_url, FINANCE)
    await expect(finance.page.get_by_role("link", name="Jobs")).to_have_count(0)
    finance.problems.allowed.add((f"{web_url}/admin/jobs", 403))
    answer = await finance.page.goto(f"{web_url}/admin/jobs")
    assert answer is not None and answer.status == 403
