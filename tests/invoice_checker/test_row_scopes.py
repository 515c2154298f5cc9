"""Whose rows each caller gets back, route by route (domain/scopes.py, issue 12).

A small world: two team leads each leading one project, two employees, finance and admin, one
month of hours including a sick leave. Every route of the OpenAPI has a rule: in `ROW_RULES` a
check that calls it as each caller with real ids and asserts which rows and fields come back, or
in `UNSCOPED` why the route holds no one's project rows. A route without either fails
`test_every_route_has_a_row_rule`.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.scopes import ProjectReach, Scope
from invoice_checker.store.directory import Project, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoice_list import InvoiceFilters, invoice_page
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.workflow import InvoiceFixedRow, InvoiceTag, ProjectFixedRow
from tests.invoice_checker.invoice_factories import (
    add_entries,
    bearer,
    lead_token,
    make_invoice,
    make_project,
    make_token,
)

MONTH = date(2026, 10, 1)
CALLERS = ("lead1", "lead2", "emp1", "emp2", "finance", "admin")


@dataclass
class World:
    p1: Project  # led by lead1
    p2: Project  # led by lead2
    leave: Project  # nobody leads it
    i1: Invoice
    i2: Invoice
    il: Invoice
    people: dict[str, TenkfeetUser]  # lead1, lead2, emp1, emp2
    headers: dict[str, dict[str, str]]
    entry_ids: dict[str, int]  # by a name given below


async def _person(session: AsyncSession, name: str) -> TenkfeetUser:
    number = uuid.uuid4().int % 10**8
    person = TenkfeetUser(
        guid=uuid.uuid4(),
        user_id=number,
        first_name=name,
        last_name="Tester",
        display_name=f"{name} Tester",
        email=f"{name}-{number}@example.com",
    )
    session.add(person)
    await session.flush()
    return person


@pytest_asyncio.fixture
async def world(db_session: AsyncSession) -> World:
    p1 = await make_project(db_session, name="Portal")
    p2 = await make_project(db_session, name="Shop")
    leave = await make_project(db_session, name="[Leave Type]")
    i1, i2, il = [await make_invoice(db_session, p, MONTH) for p in (p1, p2, leave)]
    people = {name: await _person(db_session, name) for name in ("lead1", "lead2", "emp1", "emp2")}
    headers = {
        "lead1": bearer(await lead_token(db_session, p1, email=people["lead1"].email)),
        "lead2": bearer(await lead_token(db_session, p2, email=people["lead2"].email)),
        "emp1": bearer(await make_token(db_session, "employee", people["emp1"].email)),
        "emp2": bearer(await make_token(db_session, "employee", people["emp2"].email)),
        "finance": bearer(await make_token(db_session, "finance")),
        "admin": bearer(await make_token(db_session, "admin")),
    }
    for value in headers.values():
        value["Origin"] = "http://testserver"

    def by(name: str) -> dict[str, Any]:
        person = people[name]
        return {
            "user_email": person.email,
            "user_name": person.display_name,
            "user_guid": person.guid,
            "user_id": person.user_id,
        }

    rows = {
        "emp1_p1": (i1, {**by("emp1"), "hours": 8, "notes": "portal work"}),
        "emp2_p2": (i2, {**by("emp2"), "hours": 6, "notes": "shop work"}),
        "lead1_p2": (i2, {**by("lead1"), "hours": 2, "notes": "helping the shop"}),
        "emp1_sick": (
            il,
            {
                **by("emp1"),
                "hours": 7.5,
                "bill_rate": 0,
                "leave_type": "Sick leave",
                "category": "Flu",
                "notes": "fever",
            },
        ),
        "emp2_holiday": (
            il,
            {
                **by("emp2"),
                "hours": 7.5,
                "bill_rate": 0,
                "leave_type": "Annual holiday",
                "notes": "beach",
            },
        ),
    }
    for name, (invoice, values) in rows.items():
        await add_entries(db_session, invoice, {**values, "upstream_id": abs(hash(name)) % 10**9})
    found = await db_session.execute(
        select(HourEntry.id, HourEntry.notes).where(HourEntry.invoice_id.in_([i1.id, i2.id, il.id]))
    )
    by_notes = {notes: id_ for id_, notes in found}
    entry_ids = {name: by_notes[values["notes"]] for name, (_, values) in rows.items()}
    db_session.add_all(
        [
            InvoiceTag(invoice_id=i1.id, tag="disputed"),
            InvoiceTag(invoice_id=i2.id, tag="waiting"),
            ProjectFixedRow(project_guid=p1.guid, description="Fee", price=100.0),
            ProjectFixedRow(project_guid=p2.guid, description="Fee", price=200.0),
            InvoiceFixedRow(invoice_id=i1.id, description="Setup", price=50.0),
            InvoiceFixedRow(invoice_id=i2.id, description="Setup", price=60.0),
        ]
    )
    await db_session.flush()
    await refresh_invoice_stats(db_session, invoice_ids=[i1.id, i2.id, il.id])
    return World(p1, p2, leave, i1, i2, il, people, headers, entry_ids)


# Calling routes ---------------------------------------------------------------------------------

Check = Callable[[httpx.AsyncClient, World], Awaitable[None]]
EMPLOYEES = ("emp1", "emp2")


async def call(
    client: httpx.AsyncClient,
    w: World,
    caller: str,
    method: str,
    path: str,
    json: Any = None,
    **params: Any,
) -> httpx.Response:
    return await client.request(method, path, params=params, json=json, headers=w.headers[caller])


def invoice_reach(w: World) -> dict[str, set[uuid.UUID]]:
    everything = {w.i1.id, w.i2.id, w.il.id}
    return {"lead1": {w.i1.id}, "lead2": {w.i2.id}, "finance": everything, "admin": everything}


async def expect_invoice_reach(
    client: httpx.AsyncClient, w: World, method: str, template: str, json: Any = None
) -> dict[tuple[str, uuid.UUID], httpx.Response]:
    """Each caller on each invoice: employees 403 (no permission), out of reach 404 (not 403),
    in reach a success. Returns the successful answers."""
    reach = invoice_reach(w)
    answers = {}
    for invoice in (w.i1, w.i2, w.il):
        for caller in CALLERS:
            path = template.format(invoice=invoice.id)
            response = await call(client, w, caller, method, path, json=json)
            if caller in EMPLOYEES:
                want = 403
            elif invoice.id in reach[caller]:
                want = response.status_code if response.is_success else -1
                answers[caller, invoice.id] = response
            else:
                want = 404
            assert response.status_code == want, (method, path, caller, response.text)
    return answers


def by_id(items: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {str(item[key]): item for item in items}


# Invoices ---------------------------------------------------------------------------------------


async def check_invoice_list(client: httpx.AsyncClient, w: World) -> None:
    ours = {str(i.id) for i in (w.i1, w.i2, w.il)}
    for caller, reach in invoice_reach(w).items():
        body = (await call(client, w, caller, "GET", "/api/v1/invoices", month="2026-10")).json()
        got = {item["id"] for item in body["items"]} & ours
        assert got == {str(i) for i in reach}, caller
        if caller.startswith("lead"):
            assert body["total"] == 1 and len(body["items"]) == 1
    # A filter naming another lead's project finds nothing, rather than that project.
    other = await call(client, w, "lead1", "GET", "/api/v1/invoices", project=str(w.p2.guid))
    assert (other.json()["items"], other.json()["total"]) == ([], 0)
    for caller in EMPLOYEES:
        assert (await call(client, w, caller, "GET", "/api/v1/invoices")).status_code == 403


async def check_invoice_detail(client: httpx.AsyncClient, w: World) -> None:
    answers = await expect_invoice_reach(client, w, "GET", "/api/v1/invoices/{invoice}")
    detail = answers["lead1", w.i1.id].json()
    assert detail["project"]["guid"] == str(w.p1.guid) and detail["incurred_hours"] == 8
    users = {u["email"] for phase in detail["phases"] for u in phase["users"]}
    assert users == {w.people["emp1"].email}


async def check_invoice_entries(client: httpx.AsyncClient, w: World) -> None:
    answers = await expect_invoice_reach(client, w, "GET", "/api/v1/invoices/{invoice}/entries")
    shown = {e["id"] for e in answers["lead2", w.i2.id].json()}
    assert shown == {w.entry_ids["emp2_p2"], w.entry_ids["lead1_p2"]}
    sick, holiday = w.entry_ids["emp1_sick"], w.entry_ids["emp2_holiday"]
    finance = by_id(answers["finance", w.il.id].json())
    assert (finance[str(sick)]["category"], finance[str(sick)]["notes"]) == ("Leave", None)
    assert finance[str(holiday)]["notes"] == "beach"  # not health data
    admin = by_id(answers["admin", w.il.id].json())
    assert (admin[str(sick)]["category"], admin[str(sick)]["notes"]) == ("Flu", "fever")


async def check_invoice_history(client: httpx.AsyncClient, w: World) -> None:
    answers = await expect_invoice_reach(client, w, "GET", "/api/v1/invoices/{invoice}/history")
    assert all(isinstance(r.json(), list) for r in answers.values())


async def check_invoice_comments(client: httpx.AsyncClient, w: World) -> None:
    await call(client, w, "finance", "POST", f"/api/v1/invoices/{w.i1.id}/comments", json={})
    answers = await expect_invoice_reach(client, w, "GET", "/api/v1/invoices/{invoice}/comments")
    assert len(answers["lead1", w.i1.id].json()) == 1
    assert answers["lead2", w.i2.id].json() == []


async def check_comment_submission(client: httpx.AsyncClient, w: World) -> None:
    approve = {"checked": True}
    answers = await expect_invoice_reach(
        client, w, "POST", "/api/v1/invoices/{invoice}/comments", json=approve
    )
    assert set(answers) == {
        ("lead1", w.i1.id),
        ("lead2", w.i2.id),
        *(("finance", i) for i in invoice_reach(w)["finance"]),
        *(("admin", i) for i in invoice_reach(w)["admin"]),
    }
    # lead2's refused approval of i1 left no comment behind.
    comments = await call(client, w, "finance", "GET", f"/api/v1/invoices/{w.i1.id}/comments")
    assert {c["user"] for c in comments.json()} == {
        (await _email_of(client, w, "lead1")),
        (await _email_of(client, w, "finance")),
        (await _email_of(client, w, "admin")),
    }


async def _email_of(client: httpx.AsyncClient, w: World, caller: str) -> str:
    me = (await call(client, w, caller, "GET", "/api/v1/auth/me")).json()
    return str(me["email"])


async def check_exports(client: httpx.AsyncClient, w: World) -> None:
    answers = await expect_invoice_reach(client, w, "GET", "/api/v1/invoices/{invoice}/hours.csv")
    finance = list(csv.reader(io.StringIO(answers["finance", w.il.id].text)))
    admin = list(csv.reader(io.StringIO(answers["admin", w.il.id].text)))
    assert "fever" not in answers["finance", w.il.id].text
    assert "Flu" not in answers["finance", w.il.id].text
    assert any("Leave" in row for row in finance[1:])
    assert any("fever" in row for row in admin[1:])
    lead2 = answers["lead2", w.i2.id].text
    assert "shop work" in lead2 and "portal work" not in lead2


async def check_invoice_fixed_rows(client: httpx.AsyncClient, w: World) -> None:
    answers = await expect_invoice_reach(client, w, "GET", "/api/v1/invoices/{invoice}/fixed-rows")
    assert [r["price"] for r in answers["lead1", w.i1.id].json()] == [50.0]
    assert [r["price"] for r in answers["lead2", w.i2.id].json()] == [60.0]


def fixed_row_writes(owner: str, method: str) -> Check:
    """Finance-only writes of i1's or p1's rows: leads and employees are refused (403) even on
    their own project's rows."""

    async def check(client: httpx.AsyncClient, w: World) -> None:
        key = w.i1.id if owner == "invoices" else w.p1.guid
        await _fixed_row_write(client, w, f"/api/v1/{owner}/{key}/fixed-rows", method)

    return check


async def _fixed_row_write(client: httpx.AsyncClient, w: World, base: str, method: str) -> None:
    listed = (await call(client, w, "finance", "GET", base)).json()
    row_id = listed[0]["id"] if listed else 999999
    path = base if method == "POST" else f"{base}/{row_id}"
    body = {"description": f"Row {method}", "price": 5.0}
    for caller in ("lead1", "lead2", "emp1", "emp2"):
        response = await call(client, w, caller, method, path, json=body)
        assert response.status_code == 403, (caller, method, path)
    done = await call(client, w, "finance", method, path, json=body)
    assert done.is_success, done.text


async def check_project_fixed_rows(client: httpx.AsyncClient, w: World) -> None:
    reach = {"lead1": {w.p1.guid}, "lead2": {w.p2.guid}}
    for project in (w.p1, w.p2, w.leave):
        for caller in CALLERS:
            path = f"/api/v1/projects/{project.guid}/fixed-rows"
            response = await call(client, w, caller, "GET", path)
            if caller in EMPLOYEES:
                assert response.status_code == 403
            elif caller in reach and project.guid not in reach[caller]:
                assert response.status_code == 404, (caller, path)
            else:
                assert response.status_code == 200, (caller, path)
                want = {w.p1.guid: [100.0], w.p2.guid: [200.0], w.leave.guid: []}[project.guid]
                assert [r["price"] for r in response.json()] == want


async def check_tag_list(client: httpx.AsyncClient, w: World) -> None:
    wanted = {"lead1": {"disputed": 1}, "lead2": {"waiting": 1}}
    for caller, tags in wanted.items():
        got = (await call(client, w, caller, "GET", "/api/v1/tags")).json()
        assert {t["tag"]: t["invoices"] for t in got} == tags, caller
    for caller in ("finance", "admin"):
        got = {t["tag"] for t in (await call(client, w, caller, "GET", "/api/v1/tags")).json()}
        assert {"disputed", "waiting"} <= got
    for caller in EMPLOYEES:
        assert (await call(client, w, caller, "GET", "/api/v1/tags")).status_code == 403


async def check_tag_add(client: httpx.AsyncClient, w: World) -> None:
    await expect_invoice_reach(client, w, "PUT", "/api/v1/invoices/{invoice}/tags/checked")


async def check_tag_remove(client: httpx.AsyncClient, w: World) -> None:
    # Tagged first by finance, so an answer in reach is 204 and out of reach 404 (not 403).
    for invoice in (w.i1, w.i2, w.il):
        for _ in CALLERS:
            await call(client, w, "finance", "PUT", f"/api/v1/invoices/{invoice.id}/tags/x")
    reach = invoice_reach(w)
    for invoice in (w.i1, w.i2, w.il):
        for caller in CALLERS:
            path = f"/api/v1/invoices/{invoice.id}/tags/x"
            await call(client, w, "finance", "PUT", path)
            response = await call(client, w, caller, "DELETE", path)
            want = 403 if caller in EMPLOYEES else 204 if invoice.id in reach[caller] else 404
            assert response.status_code == want, (caller, path)


# Hours and syncs --------------------------------------------------------------------------------


async def check_hour_entries(client: httpx.AsyncClient, w: World) -> None:
    ids = w.entry_ids
    everything = set(ids.values())
    wanted = {
        "lead1": {ids["emp1_p1"], ids["lead1_p2"]},  # led project, and their own hours
        "lead2": {ids["emp2_p2"], ids["lead1_p2"]},
        "emp1": {ids["emp1_p1"], ids["emp1_sick"]},  # their own only
        "emp2": {ids["emp2_p2"], ids["emp2_holiday"]},
        "finance": everything,
        "admin": everything,
    }
    for caller, want in wanted.items():
        response = await call(
            client, w, caller, "GET", "/api/v1/hour-entries",
            start="2026-10-01", end="2026-10-31", page_size=1000,
        )  # fmt: skip
        items = by_id(response.json()["items"])
        assert {int(i) for i in items} & everything == want, caller
        sick = items.get(str(ids["emp1_sick"]))
        if sick is not None:
            shown = (sick["leave_type"], sick["category"], sick["notes"])
            hidden = caller not in ("emp1", "admin")
            assert shown == (("Leave", "Leave", None) if hidden else ("Sick leave", "Flu", "fever"))
        if caller in ("lead1", "lead2", "emp1", "emp2"):
            assert all(i["user"]["email"] for i in items.values())
    # Naming someone else's hours finds nothing rather than them.
    other = await call(
        client, w, "emp1", "GET", "/api/v1/hour-entries", user=w.people["emp2"].email
    )
    assert other.json()["items"] == []


async def check_sync_request(client: httpx.AsyncClient, w: World) -> None:
    hours = {"kind": "hours", "start": "2026-10-01", "end": "2026-10-31"}
    own = await call(
        client, w, "lead1", "POST", "/api/v1/syncs", json={**hours, "project": str(w.p1.guid)}
    )
    assert own.status_code == 202, own.text
    assert own.json()["requested_by"] == await _email_of(client, w, "lead1")
    theirs = await call(
        client, w, "lead1", "POST", "/api/v1/syncs", json={**hours, "project": str(w.p2.guid)}
    )
    assert theirs.status_code == 404
    for caller, body in (("lead2", hours), ("lead2", {"kind": "users"}), ("emp1", hours)):
        assert (
            await call(client, w, caller, "POST", "/api/v1/syncs", json=body)
        ).status_code == 403
    users = await call(client, w, "finance", "POST", "/api/v1/syncs", json={"kind": "users"})
    assert users.status_code == 202


# Directory and people ---------------------------------------------------------------------------


async def check_project_list(client: httpx.AsyncClient, w: World) -> None:
    ours = {str(p.guid) for p in (w.p1, w.p2, w.leave)}
    wanted = {"lead1": {str(w.p1.guid)}, "lead2": {str(w.p2.guid)}}
    for caller in CALLERS:
        rows = by_id((await call(client, w, caller, "GET", "/api/v1/projects")).json(), "guid")
        assert set(rows) & ours == wanted.get(caller, ours), caller
        for guid in set(rows) & ours:
            money = rows[guid]["incurred_money"]
            assert money is None if caller in EMPLOYEES else money is not None
    p1 = by_id((await call(client, w, "lead1", "GET", "/api/v1/projects")).json(), "guid")
    assert p1[str(w.p1.guid)]["incurred_hours"] == 8


async def check_project_page(client: httpx.AsyncClient, w: World) -> None:
    path = f"/api/v1/projects/{w.p1.guid}"
    assert (await call(client, w, "lead2", "GET", path)).status_code == 404
    lead = (await call(client, w, "lead1", "GET", path)).json()
    assert [i["id"] for i in lead["invoices"]] == [str(w.i1.id)]
    assert [m["email"] for m in lead["members"]] == [w.people["emp1"].email]
    for caller in ("finance", "admin"):
        page = (await call(client, w, caller, "GET", path)).json()
        assert [i["id"] for i in page["invoices"]] == [str(w.i1.id)]
    mine = (await call(client, w, "emp1", "GET", path)).json()
    assert (mine["incurred_money"], mine["incurred_hours"], mine["invoices"]) == (None, None, [])
    assert [m["email"] for m in mine["members"]] == [w.people["emp1"].email]
    theirs = (await call(client, w, "emp2", "GET", path)).json()
    assert (theirs["members"], theirs["invoices"], theirs["incurred_money"]) == ([], [], None)


async def check_client_list(client: httpx.AsyncClient, w: World) -> None:
    ours = {str(p.client_id) for p in (w.p1, w.p2, w.leave)}
    wanted = {"lead1": {str(w.p1.client_id)}, "lead2": {str(w.p2.client_id)}}
    for caller in CALLERS:
        rows = by_id((await call(client, w, caller, "GET", "/api/v1/clients")).json())
        assert set(rows) & ours == wanted.get(caller, ours), caller
        for client_id in set(rows) & ours:
            row = rows[client_id]
            fields = (row["incurred_money"], row["incurred_hours"], row["invoices"])
            if caller in EMPLOYEES:
                assert fields == (None, None, None)
            else:
                assert None not in fields


async def check_client_page(client: httpx.AsyncClient, w: World) -> None:
    path = f"/api/v1/clients/{w.p1.client_id}"
    assert (await call(client, w, "lead2", "GET", path)).status_code == 404
    lead = (await call(client, w, "lead1", "GET", path)).json()
    assert [p["guid"] for p in lead["projects"]] == [str(w.p1.guid)]
    assert [i["id"] for i in lead["invoice_list"]] == [str(w.i1.id)]
    mine = (await call(client, w, "emp1", "GET", path)).json()
    assert (mine["incurred_money"], mine["invoice_list"]) == (None, [])
    assert [p["incurred_money"] for p in mine["projects"]] == [None]
    assert [m["email"] for m in mine["members"]] == [w.people["emp1"].email]
    theirs = (await call(client, w, "emp2", "GET", path)).json()
    assert theirs["members"] == []
    finance = (await call(client, w, "finance", "GET", path)).json()
    assert finance["incurred_money"] > 0 and len(finance["invoice_list"]) == 1


async def check_people(client: httpx.AsyncClient, w: World) -> None:
    for caller in CALLERS:
        response = await call(client, w, caller, "GET", "/api/v1/users", month="2026-10")
        assert response.status_code == (403 if caller in EMPLOYEES else 200), caller


async def check_person(client: httpx.AsyncClient, w: World) -> None:
    emp1, emp2 = w.people["emp1"], w.people["emp2"]
    for caller in CALLERS:
        for person in (emp1, emp2):
            path = f"/api/v1/users/{person.guid}"
            response = await call(client, w, caller, "GET", path, month="2026-10")
            mine = caller in EMPLOYEES and w.people[caller].guid == person.guid
            if caller in EMPLOYEES and not mine:
                assert response.status_code == 404, (caller, path)
            else:
                assert response.json()["email"] == person.email, (caller, path)


async def check_sick_leave_report(client: httpx.AsyncClient, w: World) -> None:
    for caller in CALLERS:
        response = await call(
            client, w, caller, "GET", "/api/v1/reports/sick-leaves", today="2026-10-20"
        )
        if caller != "admin":
            assert response.status_code == 403
            continue
        people = [p["email"] for part in response.json().values() for p in part]
        assert w.people["emp1"].email in people
        assert w.people["emp2"].email not in people  # a holiday is no sick leave


async def check_flex(client: httpx.AsyncClient, w: World) -> None:
    for caller in ("emp1", "emp2"):
        for person, other in ((w.people["emp1"], "emp2"), (w.people["emp2"], "emp1")):
            response = await call(client, w, caller, "GET", f"/api/v1/users/{person.guid}/flex")
            if caller == other:
                assert response.status_code == 403
            else:
                assert response.status_code not in (401, 403, 404), response.text


def own_flex_records(kind: str) -> Check:
    """A person's contracts or corrections: their own, or anyone's for can_see_flex_saldos."""

    async def check(client: httpx.AsyncClient, w: World) -> None:
        cases = (("emp1", "emp1", 200), ("emp1", "emp2", 403), ("admin", "emp2", 200))
        for caller, person, want in cases:
            path = f"/api/v1/users/{w.people[person].guid}/{kind}"
            assert (await call(client, w, caller, "GET", path)).status_code == want

    return check


# Routes that carry no project's invoices, hours or money, and why (their permission is in
# test_authorization_matrix.py).
UNSCOPED: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness",
    ("GET", "/readyz"): "readiness",
    ("GET", "/api/v1/auth/login"): "sign-in",
    ("GET", "/api/v1/auth/callback"): "sign-in",
    ("POST", "/api/v1/auth/logout"): "the caller's own session",
    ("GET", "/api/v1/auth/me"): "the caller's own account",
    ("GET", "/api/v1/auth/tokens"): "the caller's own tokens",
    ("POST", "/api/v1/auth/tokens"): "the caller's own tokens",
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): "the caller's own tokens",
    ("GET", "/api/v1/syncs"): "sync runs: counts of whole syncs, no project rows",
    ("GET", "/api/v1/syncs/{run_id}"): "sync runs: counts of whole syncs, no project rows",
    ("GET", "/api/v1/reports/billing-ratio"): "company report for can_view_reports",
    ("GET", "/api/v1/reports/company"): "company totals for can_view_reports",
    ("GET", "/api/v1/reports/clients"): "company totals for can_view_reports",
    ("GET", "/api/v1/reports/front-page"): "the caller's own figures and company totals",
    ("POST", "/api/v1/users/{user_guid}/contracts"): "edits for can_see_flex_saldos only",
    ("PUT", "/api/v1/contracts/{contract_id}"): "edits for can_see_flex_saldos only",
    ("DELETE", "/api/v1/contracts/{contract_id}"): "edits for can_see_flex_saldos only",
    ("POST", "/api/v1/users/{user_guid}/flex-corrections"): "edits for can_see_flex_saldos only",
    ("PUT", "/api/v1/flex-corrections/{correction_id}"): "edits for can_see_flex_saldos only",
    ("DELETE", "/api/v1/flex-corrections/{correction_id}"): "edits for can_see_flex_saldos only",
    ("POST", "/api/v1/slack/flex-hours"): "Slack's signature; the caller's own saldo (Slack tests)",
    ("POST", "/api/v1/slack/events"): "Slack's signature; unfurls as the sharer (Slack tests)",
    # Access administration and operations: can_manage_access / can_send_notifications only
    # (admin); people, groups and tokens, or jobs queued, never a project's rows or money
    # (test_access_admin.py, test_operations_api.py).
    ("GET", "/api/v1/access/users"): "people and groups, for can_manage_access",
    ("GET", "/api/v1/access/users/{email}"): "a person and their tokens, for can_manage_access",
    ("PUT", "/api/v1/access/users/{email}/groups/{group}"): "group change, can_manage_access",
    ("DELETE", "/api/v1/access/users/{email}/groups/{group}"): "group change, can_manage_access",
    ("POST", "/api/v1/access/users/{email}/deactivate"): "deactivation, can_manage_access",
    ("POST", "/api/v1/access/users/{email}/reactivate"): "reactivation, can_manage_access",
    ("GET", "/api/v1/access/groups"): "groups and members, for can_manage_access",
    ("GET", "/api/v1/access/tokens"): "token metadata (never secrets), for can_manage_access",
    ("DELETE", "/api/v1/access/tokens/{token_id}"): "token revocation, can_manage_access",
    ("POST", "/api/v1/notices/{kind}"): "queues a notice batch, can_send_notifications",
    ("POST", "/api/v1/slack-sync"): "queues the Slack sync, can_send_notifications",
    ("POST", "/api/v1/aws-imports"): "queues an AWS import, can_manage_access",
    ("PUT", "/api/v1/projects/{project_guid}/aws-accounts/{linked_account_id}"): (
        "admin-only link of any project, can_manage_access"
    ),
    ("DELETE", "/api/v1/projects/{project_guid}/aws-accounts/{linked_account_id}"): (
        "admin-only unlink of any project, can_manage_access"
    ),
}

OWN_ENTRIES = {
    "lead1": {"lead1_p2"},
    "lead2": set(),
    "emp1": {"emp1_p1", "emp1_sick"},
    "emp2": {"emp2_p2", "emp2_holiday"},
}


async def check_my_unsubmitted(client: httpx.AsyncClient, w: World) -> None:
    """Only one's own unsubmitted entries (the world's are all approved: none), and finance and
    admin, who are no 10000ft user, get a 404 rather than anyone's."""
    for caller in OWN_ENTRIES:
        response = await call(client, w, caller, "GET", "/api/v1/you/hours/unsubmitted")
        assert (response.status_code, response.json()) == (200, []), caller
    for caller in ("finance", "admin"):
        response = await call(client, w, caller, "GET", "/api/v1/you/hours/unsubmitted")
        assert response.status_code == 404, caller


async def check_my_submission(client: httpx.AsyncClient, w: World) -> None:
    """Naming every entry: one's own are judged (already approved here, so 10000ft is never
    called), anyone else's read as missing, without their date, hours or 10000ft id."""
    ids = w.entry_ids
    for caller, own in OWN_ENTRIES.items():
        response = await call(
            client, w, caller, "POST", "/api/v1/you/hours/submit",
            json={"entry_ids": sorted(ids.values())},
        )  # fmt: skip
        results = {r["entry_id"]: r for r in response.json()["results"]}
        assert set(results) == set(ids.values()), caller
        for name, entry_id in ids.items():
            result = results[entry_id]
            if name in own:
                assert result["reason"] == "Already submitted (Approved).", (caller, name)
            else:
                assert result["reason"] == "No unsubmitted entry of yours has this id."
                assert (result["upstream_id"], result["date"], result["hours"]) == (None,) * 3
    for caller in ("finance", "admin"):
        response = await call(client, w, caller, "POST", "/api/v1/you/hours/submit", json={})
        assert response.status_code == 404, caller


ROW_RULES: dict[tuple[str, str], Check] = {
    ("GET", "/api/v1/invoices"): check_invoice_list,
    ("GET", "/api/v1/invoices/{invoice_id}"): check_invoice_detail,
    ("GET", "/api/v1/invoices/{invoice_id}/entries"): check_invoice_entries,
    ("GET", "/api/v1/invoices/{invoice_id}/history"): check_invoice_history,
    ("GET", "/api/v1/invoices/{invoice_id}/comments"): check_invoice_comments,
    ("POST", "/api/v1/invoices/{invoice_id}/comments"): check_comment_submission,
    ("GET", "/api/v1/invoices/{invoice_id}/hours.{file_format}"): check_exports,
    ("GET", "/api/v1/invoices/{invoice_id}/fixed-rows"): check_invoice_fixed_rows,
    ("POST", "/api/v1/invoices/{invoice_id}/fixed-rows"): fixed_row_writes("invoices", "POST"),
    ("PUT", "/api/v1/invoices/{invoice_id}/fixed-rows/{row_id}"): fixed_row_writes(
        "invoices", "PUT"
    ),
    ("DELETE", "/api/v1/invoices/{invoice_id}/fixed-rows/{row_id}"): fixed_row_writes(
        "invoices", "DELETE"
    ),
    ("GET", "/api/v1/projects/{project_guid}/fixed-rows"): check_project_fixed_rows,
    ("POST", "/api/v1/projects/{project_guid}/fixed-rows"): fixed_row_writes("projects", "POST"),
    ("PUT", "/api/v1/projects/{project_guid}/fixed-rows/{row_id}"): fixed_row_writes(
        "projects", "PUT"
    ),
    ("DELETE", "/api/v1/projects/{project_guid}/fixed-rows/{row_id}"): (
        fixed_row_writes("projects", "DELETE")
    ),
    ("GET", "/api/v1/tags"): check_tag_list,
    ("PUT", "/api/v1/invoices/{invoice_id}/tags/{tag}"): check_tag_add,
    ("DELETE", "/api/v1/invoices/{invoice_id}/tags/{tag}"): check_tag_remove,
    ("GET", "/api/v1/hour-entries"): check_hour_entries,
    ("POST", "/api/v1/syncs"): check_sync_request,
    ("GET", "/api/v1/projects"): check_project_list,
    ("GET", "/api/v1/projects/{project_guid}"): check_project_page,
    ("GET", "/api/v1/clients"): check_client_list,
    ("GET", "/api/v1/clients/{client_id}"): check_client_page,
    ("GET", "/api/v1/users"): check_people,
    ("GET", "/api/v1/users/{user_guid}"): check_person,
    ("GET", "/api/v1/reports/sick-leaves"): check_sick_leave_report,
    ("GET", "/api/v1/users/{user_guid}/flex"): check_flex,
    ("GET", "/api/v1/users/{user_guid}/contracts"): own_flex_records("contracts"),
    ("GET", "/api/v1/users/{user_guid}/flex-corrections"): own_flex_records("flex-corrections"),
    ("GET", "/api/v1/you/hours/unsubmitted"): check_my_unsubmitted,
    ("POST", "/api/v1/you/hours/submit"): check_my_submission,
}


async def test_every_route_has_a_row_rule(ic_client: httpx.AsyncClient) -> None:
    paths = (await ic_client.get("/openapi.json")).json()["paths"]
    routes = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert ROW_RULES.keys() & UNSCOPED.keys() == set()
    assert routes - ROW_RULES.keys() - UNSCOPED.keys() == set(), "routes without a row rule"
    assert (ROW_RULES.keys() | UNSCOPED.keys()) - routes == set(), "rules for gone routes"


@pytest.mark.parametrize("route", sorted(ROW_RULES), ids=" ".join)
async def test_rows_each_caller_gets(
    ic_client: httpx.AsyncClient, world: World, route: tuple[str, str]
) -> None:
    await ROW_RULES[route](ic_client, world)


async def test_the_invoice_list_query_gives_an_employee_scope_nothing(
    db_session: AsyncSession, world: World
) -> None:
    """The store function the web app calls too: no project in reach, no rows (the API route
    refuses employees before it gets here)."""
    employee = Scope(
        email=world.people["emp1"].email, reach=ProjectReach.NONE, sees_sick_leave=False
    )
    lead = Scope(email=world.people["lead1"].email, reach=ProjectReach.LED, sees_sick_leave=False)
    filters = InvoiceFilters(month=MONTH)
    nothing = await invoice_page(db_session, filters, "-month", scope=employee, limit=10, offset=0)
    assert (list(nothing.rows), nothing.total) == ([], 0)
    led = await invoice_page(db_session, filters, "-month", scope=lead, limit=10, offset=0)
    assert [row[0] for row in led.rows] == [world.i1.id] and led.total == 1
