"""The checking workflow through the API: the golden workflow vector, permissions, fixed rows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.api.invoices import InvoiceListItem
from invoice_checker.api.pagination import Page
from invoice_checker.store.checking import CommentInput, add_comment, invoice_fixed_rows
from invoice_checker.store.directory import Client, Project
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.workflow import ProjectFixedRow
from tests.invoice_checker.invoice_factories import (
    add_entries,
    bearer,
    lead_token,
    make_invoice,
    make_project,
    make_token,
)
from tests.invoice_checker.invoice_vectors import invoice_vectors

# The original's form fields and the API's comment fields (spec 2.8).
FORM_TO_API = {
    "invoiceChecked": "checked",
    "nonPhaseSpecificOk": "checked_phases_ok",
    "nonBillableHoursOk": "checked_non_billable_ok",
    "billableIncorrectPriceOk": "checked_bill_rates_ok",
    "noCategoryOk": "checked_no_category_ok",
    "remarkableChangesOk": "checked_changes_last_month",
    "changesForInvoice": "comments",
    "invoiceNumber": "invoice_number",
    "invoiceSentToCustomer": "invoice_sent_to_customer",
}


def as_api_body(form: dict[str, str]) -> dict[str, object]:
    body: dict[str, object] = {}
    for field, value in form.items():
        name = FORM_TO_API[field]
        body[name] = value if name in {"comments", "invoice_number"} else value == "on"
    return body


def rows_of(items: list[dict[str, object]]) -> list[list[object]]:
    return sorted([[item["description"], item["price"]] for item in items])


async def test_the_checking_workflow_vector(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    case = invoice_vectors()["invoice_checking_workflow"]
    setup = case["setup"]
    project = await make_project(db_session, name=setup["project"])
    invoice = await make_invoice(
        db_session, project, date.fromisoformat(setup["invoice_month"] + "-01")
    )
    await add_entries(db_session, invoice, {"hours": 10})
    # The vector's user did every step; finance may, a team lead may not set the number.
    finance = bearer(await make_token(db_session, "finance", "lead@example.com"))
    project_rows: dict[str, int] = {}
    for description, price in setup["project_fixed_entries"]:
        response = await ic_client.post(
            f"/api/v1/projects/{project.guid}/fixed-rows",
            json={"description": description, "price": price},
            headers=finance,
        )
        assert response.status_code == 201, response.text
        project_rows[description] = response.json()["id"]

    for step in case["steps"]:
        if "post_form" not in step:  # the admin edit between the steps
            response = await ic_client.put(
                f"/api/v1/projects/{project.guid}/fixed-rows/{project_rows['Monthly maintenance']}",
                json={"description": "Monthly maintenance", "price": 600},
                headers=finance,
            )
            assert response.status_code == 200, response.text
        else:
            response = await ic_client.post(
                f"/api/v1/invoices/{invoice.id}/comments",
                json=as_api_body(step["post_form"]),
                headers=finance,
            )
            assert response.status_code == 201, (step["step"], response.text)
            comment = response.json()
            for field, value in step["expected_latest_comment"].items():
                assert comment[field] == value, (step["step"], field)
        detail = (await ic_client.get(f"/api/v1/invoices/{invoice.id}", headers=finance)).json()
        if "expected_invoice" in step:
            expected = step["expected_invoice"]
            assert detail["state"] == expected["invoice_state"], step["step"]
            assert detail["is_approved"] is expected["is_approved"]
            assert detail["has_comments"] is expected["has_comments"]
            own = await ic_client.get(f"/api/v1/invoices/{invoice.id}/fixed-rows", headers=finance)
            assert rows_of(own.json()) == step["expected_invoice_fixed_entries"], step["step"]
        assert rows_of(detail["fixed_rows"]) == step["expected_fixed_rows_used_by_invoice"]
        fixed_total = sum(price for _, price in step["expected_fixed_rows_used_by_invoice"])
        assert detail["incurred_money"] == pytest.approx(1000 + fixed_total), step["step"]

    stored = await db_session.get(Invoice, invoice.id)
    assert stored is not None
    await db_session.refresh(stored)
    assert (stored.invoice_state, stored.is_approved, stored.has_comments) == ("C", False, False)
    history = (
        await ic_client.get(f"/api/v1/invoices/{invoice.id}/history", headers=finance)
    ).json()
    assert {record["entity_type"] for record in history} == {
        "invoices",
        "invoice_comments",
        "invoice_fixed_rows",  # the copies frozen at Preview and dropped at the end
    }
    frozen = [r["changes"] for r in history if r["entity_type"] == "invoice_fixed_rows"]
    assert sorted(c.get("frozen", False) for c in frozen) == [False, False, True, True]
    assert all(record["actor"] == "lead@example.com" for record in history)


async def test_a_team_lead_approves_but_may_not_invoice_or_send(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """Bug 15.15: the original let any signed-in user mark an invoice sent."""
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 10, 1))
    lead = bearer(await lead_token(db_session, project))
    finance = bearer(await make_token(db_session, "finance"))
    employee = bearer(await make_token(db_session, "employee"))
    url = f"/api/v1/invoices/{invoice.id}/comments"

    assert (await ic_client.post(url, json={"checked": True}, headers=employee)).status_code == 403
    assert (await ic_client.post(url, json={"checked": True}, headers=lead)).status_code == 201
    refused = await ic_client.post(url, json={"checked": True, "invoice_number": "7"}, headers=lead)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["permission"] == "can_send_invoices"
    body = {"checked": True, "invoice_number": "7", "invoice_sent_to_customer": True}
    assert (await ic_client.post(url, json=body, headers=finance)).status_code == 201
    # A lead re-sending finance's values may still comment; dropping them is refused.
    assert (
        await ic_client.post(url, json={**body, "comments": "ok"}, headers=lead)
    ).status_code == 201
    assert (await ic_client.post(url, json={"checked": True}, headers=lead)).status_code == 403
    detail = (await ic_client.get(f"/api/v1/invoices/{invoice.id}", headers=lead)).json()
    assert detail["state"] == "S"


async def test_invoiced_rows_are_frozen_and_hand_added_rows_survive_reopening(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 9, 1))
    finance = bearer(await make_token(db_session, "finance"))
    rows = f"/api/v1/invoices/{invoice.id}/fixed-rows"
    own = await ic_client.post(rows, json={"description": "Setup", "price": 250}, headers=finance)
    assert own.status_code == 201
    duplicate = await ic_client.post(
        rows, json={"description": "Setup", "price": 1}, headers=finance
    )
    assert duplicate.status_code == 409
    await ic_client.post(
        f"/api/v1/projects/{project.guid}/fixed-rows",
        json={"description": "Hosting", "price": 100},
        headers=finance,
    )
    comments = f"/api/v1/invoices/{invoice.id}/comments"
    await ic_client.post(comments, json={"checked": True, "invoice_number": "9"}, headers=finance)
    frozen = await ic_client.put(
        f"{rows}/{own.json()['id']}", json={"description": "Setup", "price": 1}, headers=finance
    )
    assert frozen.status_code == 409
    assert frozen.json()["type"] == "urn:problem:frozen"
    listed = (await ic_client.get(rows, headers=finance)).json()
    assert sorted((r["description"], r["frozen"]) for r in listed) == [
        ("Hosting", True),
        ("Setup", False),
    ]
    await ic_client.post(comments, json={"checked": True}, headers=finance)
    listed = (await ic_client.get(rows, headers=finance)).json()
    assert [(r["description"], r["frozen"]) for r in listed] == [("Setup", False)]
    detail = (await ic_client.get(f"/api/v1/invoices/{invoice.id}", headers=finance)).json()
    assert detail["incurred_money"] == 350
    assert detail["money_by_currency"] == {"EUR": 350}


async def test_detail_shows_problems_checklist_and_comparison(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    project = await make_project(db_session)
    september = await make_invoice(db_session, project, date(2026, 9, 1))
    october = await make_invoice(db_session, project, date(2026, 10, 1))
    await add_entries(db_session, september, {"hours": 10})
    await add_entries(
        db_session,
        october,
        {"hours": 20},
        {"hours": 3, "phase_name": "Non-billable meetings"},
        {"hours": 2, "category": "No category", "calculated_has_category": False},
        {"hours": 4, "status": "Unsubmitted"},
    )
    lead = bearer(await lead_token(db_session, project))
    from invoice_checker.store.invoice_stats import refresh_invoice_stats

    await refresh_invoice_stats(db_session, invoice_ids=[september.id, october.id])
    detail = (await ic_client.get(f"/api/v1/invoices/{october.id}", headers=lead)).json()
    assert detail["incurred_hours"] == 25
    assert detail["incorrect_counts"]["no_category"] == 1
    assert detail["incorrect_entries_count"] == 2
    assert {item["field"] for item in detail["checklist"]} == {
        "checked_non_billable_ok",
        "checked_no_category_ok",
        "checked_changes_last_month",
    }
    assert detail["comparison"]["hours"] == {
        "previous": 10,
        "current": 25,
        "diff": 15,
        "percentage": 150.0,
    }
    assert [s["name"] for s in detail["phases"]] == [
        "Development - 100.0",
        "Non-billable meetings - 100.0",
    ]
    problems = await ic_client.get(
        f"/api/v1/invoices/{october.id}/entries", params={"problem": "no_category"}, headers=lead
    )
    assert [e["hours"] for e in problems.json()] == [2]
    bad = await ic_client.get(
        f"/api/v1/invoices/{october.id}/entries", params={"problem": "nonsense"}, headers=lead
    )
    assert bad.status_code == 422
    missing = await ic_client.get(f"/api/v1/invoices/{uuid.uuid4()}", headers=lead)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_tags_label_invoices(ic_client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 8, 1))
    lead = bearer(await lead_token(db_session, project))
    url = f"/api/v1/invoices/{invoice.id}/tags"
    assert (await ic_client.put(f"{url}/disputed", headers=lead)).status_code == 204
    assert (await ic_client.put(f"{url}/disputed", headers=lead)).status_code == 204
    assert (await ic_client.put(f"{url}/Bad%20Tag", headers=lead)).status_code == 422
    detail = (await ic_client.get(f"/api/v1/invoices/{invoice.id}", headers=lead)).json()
    assert detail["tags"] == ["disputed"]
    assert {"tag": "disputed", "invoices": 1} in (
        await ic_client.get("/api/v1/tags", headers=lead)
    ).json()
    assert (await ic_client.delete(f"{url}/disputed", headers=lead)).status_code == 204
    assert (await ic_client.delete(f"{url}/disputed", headers=lead)).status_code == 404


async def test_invoice_list_filters_and_sorts(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    month = date(2031, 1, 1)  # a month no other test uses
    alpha = await make_project(db_session, name="Alpha", client=f"Zed {uuid.uuid4().hex[:6]}")
    beta = await make_project(db_session, name="Beta", client=f"Ann {uuid.uuid4().hex[:6]}")
    clean = await make_invoice(db_session, alpha, month)
    messy = await make_invoice(db_session, beta, month)
    await add_entries(db_session, clean, {"hours": 1})
    await add_entries(db_session, messy, {"hours": 5, "phase_name": "[Non Phase Specific]"})
    from invoice_checker.store.invoice_stats import refresh_invoice_stats

    await refresh_invoice_stats(db_session, invoice_ids=[clean.id, messy.id])
    finance = bearer(await make_token(db_session, "finance"))
    await ic_client.put(f"/api/v1/invoices/{messy.id}/tags/disputed", headers=finance)
    await ic_client.post(
        f"/api/v1/invoices/{clean.id}/comments", json={"checked": True}, headers=finance
    )

    async def ids(**params: str | int | bool | list[str]) -> list[str]:
        response = await ic_client.get(
            "/api/v1/invoices", params={"month": "2031-01", **params}, headers=finance
        )
        assert response.status_code == 200, response.text
        # The page is JSON built by PostgreSQL: it must still match the documented model.
        Page[InvoiceListItem].model_validate_json(response.content, strict=True)
        assert response.json()["total"] == len(response.json()["items"])
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [str(messy.id), str(clean.id)]  # by client name: Ann, Zed
    assert await ids(sort="-hours") == [str(messy.id), str(clean.id)]
    assert await ids(sort="hours") == [str(clean.id), str(messy.id)]
    assert await ids(has_problems="true") == [str(messy.id)]
    assert await ids(has_problems="false") == [str(clean.id)]
    assert await ids(state="A") == [str(clean.id)]
    assert await ids(state=["C", "A"]) == [str(messy.id), str(clean.id)]
    assert await ids(tag="disputed") == [str(messy.id)]
    assert await ids(client=alpha.client_id) == [str(clean.id)]
    assert await ids(project=str(beta.guid)) == [str(messy.id)]
    beyond = await ic_client.get(
        "/api/v1/invoices", params={"month": "2031-01", "page": 3}, headers=finance
    )
    assert (beyond.json()["items"], beyond.json()["total"]) == ([], 2)
    bad = await ic_client.get("/api/v1/invoices", params={"sort": "nonsense"}, headers=finance)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_two_submissions_at_once_freeze_the_rows_once(engine: AsyncEngine) -> None:
    """The invoice row is locked while a comment changes its state."""
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    async with sessionmaker() as session:
        project = await make_project(session, name=f"Race {uuid.uuid4().hex[:6]}")
        invoice = await make_invoice(session, project, date(2026, 6, 1))
        session.add(ProjectFixedRow(project_guid=project.guid, description="Fee", price=10.0))
        await session.commit()
    try:

        async def submit(number: str) -> None:
            async with sessionmaker() as session:
                mine = await session.get_one(Invoice, invoice.id)
                given = CommentInput(checked=True, invoice_number=number)
                await add_comment(
                    session, mine, given, actor="finance@example.com", may_change_invoicing=True
                )
                await session.commit()

        await asyncio.gather(submit("1"), submit("2"))
        async with sessionmaker() as session:
            rows = await invoice_fixed_rows(session, invoice.id)
            assert [(row.description, row.frozen) for row in rows] == [("Fee", True)]
    finally:
        async with sessionmaker() as session:
            await session.execute(delete(Project).where(Project.guid == project.guid))
            await session.execute(delete(Client).where(Client.id == project.client_id))
            await session.commit()
