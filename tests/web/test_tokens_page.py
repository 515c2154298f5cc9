"""My API tokens in a real browser: create one (the secret shown once, and it works), list,
revoke (and it stops working)."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.web.conftest import EMPLOYEE, Person
from tests.web.test_monthly_check import sign_in


async def test_create_use_and_revoke_a_token(open_person: Any, web_url: str) -> None:
    employee: Person = await open_person()
    page = employee.page
    await sign_in(employee, web_url, EMPLOYEE)
    await page.get_by_role("link", name=EMPLOYEE).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("My API tokens")
    await page.get_by_label("Name").fill("monthly script")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_role("status")).to_contain_text("Copy it now")
    secret = await page.get_by_label("Token").input_value()
    assert len(secret) > 20
    await employee.shot("tokens-created")

    me = await page.request.get(
        f"{web_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}
    )
    assert me.status == 200 and (await me.json())["email"] == EMPLOYEE

    await page.goto(f"{web_url}/you/tokens")  # the secret is never shown again
    await expect(page.get_by_label("Token")).to_have_count(0)
    await page.get_by_role("button", name="Revoke monthly script").click()
    await expect(page.get_by_role("status")).to_have_text("Revoked.")
    await expect(page.get_by_role("row", name=re.compile("monthly script"))).to_contain_text(
        "revoked"
    )
    employee.problems.allowed.add((f"{web_url}/api/v1/auth/me", 401))
    gone = await page.request.get(
        f"{web_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}
    )
    assert gone.status == 401
