"""Reports and directory pages over stored hours (spec 7)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.reports import (
    last_marking_text,
    sick_leave_summary,
    smoothed_daily_ratio,
)
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from tests.invoice_checker.invoice_factories import (
    add_entries,
    bearer,
    lead_token,
    make_invoice,
    make_project,
    make_token,
)

TODAY = date(2026, 11, 20)


async def make_person(session: AsyncSession, first: str, *, archived: bool = False) -> TenkfeetUser:
    user = TenkfeetUser(
        guid=uuid.uuid4(),
        user_id=uuid.uuid4().int % 10**8,
        first_name=first,
        last_name="Tester",
        display_name=f"{first} Tester",
        email=f"{first.lower()}.{uuid.uuid4().hex[:6]}@example.com",
        archived=archived,
        created_at=datetime(2017, 1, 1, tzinfo=UTC),
    )
    session.add(user)
    await session.flush()
    return user


def test_sick_leave_periods_split_on_gaps_of_more_than_five_days() -> None:
    sick = [TODAY - timedelta(days=d) for d in (1, 2, 3, 9, 16, 100, 119, 120, 300)]
    summary = sick_leave_summary(sick, TODAY)
    assert summary.long == 9
    # 120 days ago is outside the short window (strictly after today - 120); a gap of 6 days
    # (9 -> 3 days ago) starts a new period, one of 5 does not.
    assert [(p.first, p.num_days) for p in summary.periods] == [
        (TODAY - timedelta(days=119), 1),
        (TODAY - timedelta(days=100), 1),
        (TODAY - timedelta(days=16), 1),
        (TODAY - timedelta(days=9), 1),
        (TODAY - timedelta(days=3), 3),
    ]
    assert summary.short == 5 and summary.exceeding


@given(st.sets(st.integers(min_value=0, max_value=400), max_size=60))
def test_sick_periods_cover_every_recent_sick_day_once(offsets: set[int]) -> None:
    days = [TODAY - timedelta(days=o) for o in offsets]
    summary = sick_leave_summary(days, TODAY)
    recent = {d for d in days if d > TODAY - timedelta(days=120)}
    covered = {d for d in recent if any(p.first <= d <= p.last for p in summary.periods)}
    assert covered == recent
    assert summary.long == len({d for d in days if d >= TODAY - timedelta(days=365)})
    for before, after in zip(summary.periods, summary.periods[1:], strict=False):
        assert (after.first - before.last).days > 5


def test_front_page_wording_and_smoothing() -> None:
    assert last_marking_text(None, TODAY) == "No entries"
    assert last_marking_text(TODAY, TODAY) == "today"
    assert last_marking_text(TODAY - timedelta(days=2), TODAY) == "day before yesterday"
    assert last_marking_text(TODAY - timedelta(days=9), TODAY) == "9 days ago"
    assert last_marking_text(TODAY + timedelta(days=1), TODAY) == "in the future"
    curve = smoothed_daily_ratio({TODAY - timedelta(days=95): (1.0, 0.0)}, TODAY)
    assert len(curve) == 90 and curve[-1] == 100.0  # carried forward over empty days


async def test_reports_and_directory_over_stored_hours(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    alice = await make_person(db_session, "Alice")
    bob = await make_person(db_session, "Bob")
    project = await make_project(db_session, name="Webshop", client=f"Acme {uuid.uuid4().hex[:6]}")
    leave = await make_project(
        db_session, name="[Leave Type]", client=f"none {uuid.uuid4().hex[:6]}"
    )
    october = await make_invoice(db_session, project, date(2026, 10, 1))
    leaves = await make_invoice(db_session, leave, date(2026, 10, 1))
    who = {
        "user_email": alice.email,
        "user_name": "Alice Tester",
        "user_guid": alice.guid,
        "client": project.client.name,
    }
    await add_entries(
        db_session,
        october,
        {**who, "date": date(2026, 10, 5), "hours": 30},
        {**who, "date": date(2026, 10, 6), "hours": 10, "phase_name": "Non-billable work"},
        {
            "user_email": bob.email,
            "user_name": "Bob Tester",
            "user_guid": bob.guid,
            "client": project.client.name,
            "date": date(2026, 10, 6),
            "hours": 5,
        },
    )
    sick = {**who, "leave_type": "Sick leave", "bill_rate": 0, "hours": 7.5}
    await add_entries(
        db_session,
        leaves,
        *[{**sick, "date": TODAY - timedelta(days=d)} for d in (3, 20, 40, 60, 80)],
    )
    await refresh_invoice_stats(db_session, invoice_ids=[october.id, leaves.id])
    admin = bearer(await make_token(db_session, "admin", alice.email))
    lead = bearer(await lead_token(db_session, project))

    ratio = await ic_client.get(
        "/api/v1/reports/billing-ratio",
        params={"start": "2026-10-01", "end": "2026-10-31"},
        headers=lead,
    )
    mine = next(r for r in ratio.json() if r["email"] == alice.email)
    assert mine["billing_ratio"] == pytest.approx(75.0)  # leaves left out by default
    backwards = await ic_client.get(
        "/api/v1/reports/billing-ratio",
        params={"start": "2026-10-31", "end": "2026-10-01"},
        headers=lead,
    )
    assert backwards.status_code == 400

    assert (await ic_client.get("/api/v1/reports/sick-leaves", headers=lead)).status_code == 403
    sick_report = await ic_client.get(
        "/api/v1/reports/sick-leaves", params={"today": TODAY.isoformat()}, headers=admin
    )
    exceeding = {p["email"]: p for p in sick_report.json()["exceeding"]}
    assert exceeding[alice.email]["short"] == 5

    company = await ic_client.get(
        "/api/v1/reports/company", params={"today": TODAY.isoformat()}, headers=lead
    )
    october_row = next(m for m in company.json() if m["month"] == "2026-10")
    assert october_row["billing_rate"] == 100.0
    assert october_row["employees"] >= 1

    clients = await ic_client.get(
        "/api/v1/reports/clients", params={"today": TODAY.isoformat()}, headers=lead
    )
    # The original rendered a 400 response object as page context for a bad field (7.4).
    bad_field = await ic_client.get("/api/v1/reports/clients", params={"field": "x"}, headers=lead)
    assert bad_field.status_code == 422
    acme = next(c for c in clients.json() if c["client"] == project.client.name)
    acme_october = next(m for m in acme["months"] if m["month"] == "2026-10")
    assert (acme_october["active_days"], acme_october["hours_sum"]) == (2, 45)
    assert acme_october["total_days"] == 22

    front = await ic_client.get(
        "/api/v1/reports/front-page", params={"today": TODAY.isoformat()}, headers=admin
    )
    assert front.json()["your_last_hour_marking"] == "3 days ago"
    assert len(front.json()["your_daily_billing_ratio"]) == 90

    projects = await ic_client.get("/api/v1/projects", params={"q": "websh"}, headers=lead)
    webshop = next(p for p in projects.json() if p["guid"] == str(project.guid))
    assert (webshop["incurred_hours"], webshop["incurred_money"]) == (45, 3500)
    detail = await ic_client.get(f"/api/v1/projects/{project.guid}", headers=lead)
    assert [m["hours"] for m in detail.json()["members"]] == [40, 5]
    client_detail = await ic_client.get(f"/api/v1/clients/{project.client_id}", headers=lead)
    assert client_detail.json()["invoice_list"][0]["month"] == "2026-10"
    people = await ic_client.get("/api/v1/users", params={"month": "2026-10"}, headers=lead)
    row = next(p for p in people.json() if p["email"] == alice.email)
    assert (row["invoicing_ratio"], row["bill_rate_avg_billable"]) == (75.0, 100.0)
    bad_month = await ic_client.get("/api/v1/users", params={"month": "2026-13"}, headers=lead)
    assert bad_month.status_code == 422
    person = await ic_client.get(
        f"/api/v1/users/{alice.guid}", params={"month": "2026-10"}, headers=lead
    )
    assert person.json()["months_with_entries"][0] == "2026-11"
    missing = await ic_client.get(f"/api/v1/users/{uuid.uuid4()}", headers=lead)
    assert missing.status_code == 404
