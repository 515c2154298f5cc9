"""Flex over HTTP: every golden vector through stored contracts, corrections, holidays and hour
entries; who may read and edit; contract and correction CRUD with clear 4xx answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.api.flex import local_today
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import PublicHoliday, TenkfeetUser
from invoice_checker.store.flex import (
    FlexTimeCorrection,
    WorkContract,
    contracts_of,
    overlapping_contract,
)
from invoice_checker.store.history import HistoryRecord
from tests.invoice_checker.auth_helpers import bearer
from tests.invoice_checker.directory_factories import (
    make_entry,
    make_invoice,
    make_project,
    make_user,
)
from tests.invoice_checker.flex_vectors import FlexCase, flex_cases
from tests.support.apps import app_client

ADMIN = "admin@example.com"


class Clock:
    today = date(2018, 3, 15)


@pytest_asyncio.fixture
async def client(
    ic_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ic_settings)
    app.dependency_overrides[local_today] = lambda: Clock.today
    async with app_client(app, db_session) as client:
        yield client


async def store_scenario(session: AsyncSession, inputs: dict[str, Any]) -> TenkfeetUser:
    user = await make_user(session, "Alice", "Admin")
    for contract in inputs["contracts"]:
        session.add(
            WorkContract(
                user_guid=user.guid,
                start_date=date.fromisoformat(contract["start_date"]),
                end_date=date.fromisoformat(contract["end_date"]),
                flex_enabled=contract["flex_enabled"],
                worktime_percent=contract["worktime_percent"],
            )
        )
    for correction in inputs["flex_time_corrections"]:
        session.add(
            FlexTimeCorrection(
                user_guid=user.guid,
                date=date.fromisoformat(correction["date"]),
                adjust_by=correction["adjust_by"],
                set_to=correction["set_to"],
            )
        )
    for holiday in inputs["public_holidays"]:
        session.add(PublicHoliday(date=date.fromisoformat(holiday["date"]), name=holiday["name"]))
    project = await make_project(session, "Webshop")
    invoices = {}
    for entry in inputs["hour_entries"]:
        day = date.fromisoformat(entry["date"])
        if day.replace(day=1) not in invoices:
            invoices[day.replace(day=1)] = await make_invoice(session, project, day)
        await make_entry(
            session,
            user,
            invoices[day.replace(day=1)],
            day,
            entry["hours"],
            project=entry["project_name"],
            leave_type=entry["leave_type"],
            phase_name=entry["phase_name"],
            status=entry["status"],
        )
    await session.flush()
    return user


@pytest.mark.parametrize("case", [c for c in flex_cases() if not c.values[0].only_active])
async def test_vector_through_the_api(
    case: FlexCase, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await store_scenario(db_session, case.inputs)
    Clock.today = date.fromisoformat(case.inputs["today"])
    params = {
        key: str(value).lower() if isinstance(value, bool) else value
        for key, value in case.inputs.items()
        if key in ("flex_last_day", "ignore_events")
    }
    headers = await bearer(db_session, ADMIN, "admin")
    response = await client.get(f"/api/v1/users/{user.guid}/flex", params=params, headers=headers)
    if case.is_error:
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == case.expected["message"]
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cumulative_saldo"] == case.expected["cumulative_saldo"]
    assert body["kiky"] == case.expected["kiky"]
    assert body["monthly_summary"] == case.expected["monthly_summary_newest_first"]
    assert body["daily_log"] == case.expected["calculation_log_chronological"]


async def test_the_gap_answer_names_the_day(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    db_session.add_all(
        [
            WorkContract(
                user_guid=user.guid, start_date=date(2018, 1, 1), end_date=date(2018, 1, 31)
            ),
            WorkContract(
                user_guid=user.guid, start_date=date(2018, 2, 5), end_date=date(2018, 12, 31)
            ),
        ]
    )
    Clock.today = date(2018, 3, 1)
    headers = await bearer(db_session, ADMIN, "admin")
    response = await client.get(f"/api/v1/users/{user.guid}/flex", headers=headers)
    assert response.status_code == 409
    assert response.json()["type"] == "urn:problem:flex-no-contract"
    assert response.json()["day"] == "2018-02-01"


async def test_people_see_their_own_flex_only(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    alice = await make_user(db_session, "Alice", "Admin", email="alice@example.com")
    bob = await make_user(db_session, "Bob", "Builder", email="bob@example.com")
    for person in (alice, bob):
        db_session.add(
            WorkContract(
                user_guid=person.guid, start_date=date(2018, 1, 1), end_date=date(2018, 12, 31)
            )
        )
    Clock.today = date(2018, 1, 3)
    as_alice = await bearer(db_session, "Alice@Example.com", "employee")
    own = await client.get(f"/api/v1/users/{alice.guid}/flex", headers=as_alice)
    assert own.status_code == 200
    # 1 and 2 January unmarked (no holiday stored) and January's 2 h KIKY deduction.
    assert own.json()["cumulative_saldo"] == -17.0
    other = await client.get(f"/api/v1/users/{bob.guid}/flex", headers=as_alice)
    assert other.status_code == 403
    assert other.json()["permission"] == "can_see_flex_saldos"
    anonymous = await client.get(f"/api/v1/users/{alice.guid}/flex")
    assert anonymous.status_code == 401
    edit = await client.post(
        f"/api/v1/users/{alice.guid}/contracts",
        json={"start_date": "2019-01-01", "end_date": "2019-12-31"},
        headers=as_alice,
    )
    assert edit.status_code == 403


async def test_flex_last_day_must_be_in_the_past(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    Clock.today = date(2018, 3, 1)
    headers = await bearer(db_session, ADMIN, "admin")
    url = f"/api/v1/users/{user.guid}/flex"
    response = await client.get(url, params={"flex_last_day": "2018-03-01"}, headers=headers)
    assert response.status_code == 422
    assert "before today (2018-03-01)" in response.json()["detail"]
    # Beyond the calendar every date query accepts (issue 12), refused before the route runs.
    far = await client.get(url, params={"flex_last_day": "9999-12-31"}, headers=headers)
    assert far.status_code == 422
    assert "2199-12-31" in str(far.json()["errors"])
    bad = await client.get(url, params={"flex_last_day": "yesterday"}, headers=headers)
    assert bad.status_code == 422


async def test_unknown_person_is_404(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    headers = await bearer(db_session, ADMIN, "admin")
    response = await client.get(
        "/api/v1/users/00000000-0000-0000-0000-000000000001/flex", headers=headers
    )
    assert response.status_code == 404


async def test_contract_crud_with_history_and_overlap_refusal(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    headers = await bearer(db_session, ADMIN, "admin")
    url = f"/api/v1/users/{user.guid}/contracts"
    created = await client.post(
        url,
        json={"start_date": "2018-01-01", "end_date": "2018-06-30", "worktime_percent": 80},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    contract = created.json()
    assert contract["flex_enabled"] is True and contract["worktime_percent"] == 80

    overlap = await client.post(
        url, json={"start_date": "2018-06-01", "end_date": "2018-12-31"}, headers=headers
    )
    assert overlap.status_code == 409
    assert overlap.json()["contract_id"] == contract["id"]

    backwards = await client.post(
        url, json={"start_date": "2018-12-31", "end_date": "2018-07-01"}, headers=headers
    )
    assert backwards.status_code == 422
    percent = await client.post(
        url,
        json={"start_date": "2019-01-01", "end_date": "2019-02-01", "worktime_percent": 0},
        headers=headers,
    )
    assert percent.status_code == 422

    replaced = await client.put(
        f"/api/v1/contracts/{contract['id']}",
        json={"start_date": "2018-01-01", "end_date": "2018-12-31", "flex_enabled": False},
        headers=headers,
    )
    assert replaced.status_code == 200
    assert replaced.json()["flex_enabled"] is False
    assert replaced.json()["worktime_percent"] == 100
    listed = await client.get(url, headers=headers)
    assert [c["end_date"] for c in listed.json()] == ["2018-12-31"]

    deleted = await client.delete(f"/api/v1/contracts/{contract['id']}", headers=headers)
    assert deleted.status_code == 204
    assert (await client.get(url, headers=headers)).json() == []
    history = await db_session.execute(
        select(HistoryRecord.changes, HistoryRecord.actor)
        .where(HistoryRecord.entity_type == "work_contracts")
        .order_by(HistoryRecord.id)
    )
    rows = history.all()
    assert [r.actor for r in rows] == [ADMIN] * 3
    assert rows[1].changes == {
        "end_date": "2018-12-31",
        "flex_enabled": False,
        "worktime_percent": 100,
    }
    assert rows[2].changes == {"deleted": True}


async def test_correction_crud_and_validation(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await make_user(db_session)
    headers = await bearer(db_session, ADMIN, "admin")
    url = f"/api/v1/users/{user.guid}/flex-corrections"
    for body in (
        {"date": "2018-02-01"},
        {"date": "2018-02-01", "set_to": 1, "adjust_by": 2},
        {"date": "2018-02-01", "set_to": 100000},
        {"date": "2018-02-01", "set_to": "1.234"},
        {"date": "not a date", "set_to": 1},
    ):
        refused = await client.post(url, json=body, headers=headers)
        assert refused.status_code == 422, body
        assert refused.json()["type"] == "urn:problem:validation"
    created = await client.post(url, json={"date": "2018-02-01", "set_to": "10.5"}, headers=headers)
    assert created.status_code == 201
    correction = created.json()
    assert correction["set_to"] == 10.5 and correction["adjust_by"] is None
    replaced = await client.put(
        f"/api/v1/flex-corrections/{correction['id']}",
        json={"date": "2018-02-02", "adjust_by": -2},
        headers=headers,
    )
    assert replaced.json()["adjust_by"] == -2 and replaced.json()["set_to"] is None
    assert len((await client.get(url, headers=headers)).json()) == 1
    gone = await client.delete(f"/api/v1/flex-corrections/{correction['id']}", headers=headers)
    assert gone.status_code == 204
    missing = await client.delete(f"/api/v1/flex-corrections/{correction['id']}", headers=headers)
    assert missing.status_code == 404


async def test_concurrent_overlapping_contracts_cannot_both_be_stored(engine: AsyncEngine) -> None:
    """Two writers checking for overlap at once take turns on the person's row lock."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as setup:
        user = await make_user(setup)
        await setup.commit()

    async def add(start: date, pause: float) -> bool:
        async with sessions() as session, session.begin():
            clash = await overlapping_contract(session, user.guid, start, date(2030, 12, 31))
            if clash is not None:
                return False
            session.add(
                WorkContract(user_guid=user.guid, start_date=start, end_date=date(2030, 12, 31))
            )
            await asyncio.sleep(pause)  # hold the lock while the other writer waits
            return True

    try:
        results = await asyncio.gather(add(date(2030, 1, 1), 0.2), add(date(2030, 6, 1), 0))
        assert sorted(results) == [False, True]
        async with sessions() as check:
            assert len(await contracts_of(check, user.guid)) == 1
    finally:
        async with sessions() as cleanup, cleanup.begin():
            await cleanup.execute(delete(TenkfeetUser).where(TenkfeetUser.guid == user.guid))
