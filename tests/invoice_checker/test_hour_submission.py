"""Submitting one's hours to 10000ft (spec 4.9): the client and the stand-in's
`POST /api/v1/approvals`, the refusal rules, and the whole flow through the API, the stand-in,
PostgreSQL and the next sync."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.adapters.tenkfeet import Approvable, TenkfeetClient, TenkfeetRejected
from invoice_checker.api.flex import local_today
from invoice_checker.api.you import tenkfeet_for_request
from invoice_checker.domain import hour_submission as rules
from invoice_checker.domain.hour_submission import Candidate, SubmitResult, follow_up_sync
from invoice_checker.jobs.sync import sync_hours, sync_projects, sync_users
from invoice_checker.jobs.sync_runs import RUN_SYNC_JOB
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.tenkfeet import TenkfeetWorld
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice
from tests.invoice_checker.auth_helpers import bearer
from tests.invoice_checker.sync_support import (
    clean_sessionmaker,
    end_to_end_vector,
    in_process_client,
    vector_world,
)
from tests.support.apps import app_client

TODAY = date(2018, 2, 10)
SYNC_START, SYNC_END = date(2017, 11, 1), date(2018, 2, 9)
BOB = 102  # bob.builder@example.com in the vector
CAROL = 103
STAMP = "2018-02-08T10:00:00Z"


def _entry(entry_id: int, user_id: int, day: str, hours: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        "assignable_id": 1001,
        "assignable_type": "Project",
        "user_id": user_id,
        "bill_rate": 100.0,
        "bill_rate_id": None,
        "date": day,
        "hours": hours,
        "scheduled_hours": None,
        "notes": "Work",
        "task": "Coding",
        "is_suggestion": False,
        "created_at": STAMP,
        "updated_at": STAMP,
        "approvals": {"data": []},
        **extra,
    }


def world_with_unsubmitted_hours() -> TenkfeetWorld:
    """The golden vector's account, plus Bob's unsubmitted entries and one of Carol's."""
    world = vector_world(copy.deepcopy(end_to_end_vector()))
    world.change_day(date(2018, 2, 7), "add", {"entries": [_entry(201, BOB, "2018-02-07", 3.0)]})
    world.change_day(
        date(2018, 2, 8),
        "add",
        {
            "entries": [
                _entry(202, BOB, "2018-02-08", 2.5),
                _entry(203, BOB, "2018-02-08", 1.0),  # will change upstream after the sync
                _entry(205, CAROL, "2018-02-08", 4.0),
            ]
        },
    )
    world.change_day(date(2017, 11, 20), "add", {"entries": [_entry(204, BOB, "2017-11-20", 6.0)]})
    return world


def _approvals(world: TenkfeetWorld, entry_id: int) -> list[dict[str, Any]]:
    found = world.find_entry(entry_id)
    assert found is not None
    data: list[dict[str, Any]] = found[1]["approvals"]["data"]
    return data


# --- the client and the stand-in ----------------------------------------------------------------


async def test_submitting_moves_entries_to_pending_and_refuses_stale_ones() -> None:
    world = world_with_unsubmitted_hours()
    async with in_process_client(world) as client:
        approvals = await client.submit_for_approval(
            [
                Approvable(201, datetime(2018, 2, 8, 10, tzinfo=UTC)),
                Approvable(202, datetime(2018, 2, 8, 9, tzinfo=UTC)),  # stale: refused
                Approvable(999, datetime(2018, 2, 8, 10, tzinfo=UTC)),  # unknown: refused
            ]
        )
        assert [(a["approvable_id"], a["status"], a["approved_at"]) for a in approvals] == [
            (201, "pending", None)
        ]
        assert _approvals(world, 202) == []
        # The time entries now carry the approval, as a sync reads them.
        listed = await client.time_entries(date(2018, 2, 7), date(2018, 2, 7))
        mine = next(e for e in listed if e["id"] == 201)
        assert mine["approvals"]["data"][0]["id"] == approvals[0]["id"]
        # Submitting again changes nothing and answers with the same approval.
        again = await client.submit_for_approval(
            [Approvable(201, datetime(2018, 2, 8, 10, tzinfo=UTC))]
        )
        assert again == approvals
        assert await client.submit_for_approval([]) == []


async def test_the_stand_in_checks_the_wire_shape() -> None:
    world = world_with_unsubmitted_hours()
    async with in_process_client(world, max_retries=0) as client:
        with pytest.raises(TenkfeetRejected) as refused:
            await client.post(
                "/api/v1/approvals",
                {
                    "approvables": [{"id": 201, "type": "TimeEntry", "updated_at": STAMP}],
                    "status": "approved",
                },
            )
        assert refused.value.status == 403
        with pytest.raises(TenkfeetRejected) as bad:
            await client.post("/api/v1/approvals", {"approvables": "201", "status": "pending"})
        assert bad.value.status == 400
    assert _approvals(world, 201) == []


def test_the_submitted_time_is_10000fts_format() -> None:
    from datetime import timedelta, timezone

    helsinki = timezone(timedelta(hours=2))
    wire = Approvable(7, datetime(2018, 2, 8, 12, 0, 5, 123456, tzinfo=helsinki)).wire()
    assert wire == {"id": 7, "type": "TimeEntry", "updated_at": "2018-02-08T10:00:05Z"}


# --- the rules ----------------------------------------------------------------------------------


def _candidate(**changes: Any) -> Candidate:
    values: dict[str, Any] = {
        "id": 1,
        "upstream_id": 11,
        "date": date(2018, 2, 1),
        "hours": 2.0,
        "status": "Unsubmitted",
        "project_archived": False,
        "updated_at": datetime(2018, 2, 1, tzinfo=UTC),
    }
    values.update(changes)
    return Candidate(**values)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"status": "Pending Approval"}, "Already submitted (Pending Approval)."),
        ({"project_archived": True}, rules.ARCHIVED_PROJECT),
        ({"hours": 0.0}, rules.NO_HOURS),
        ({"updated_at": None}, rules.NO_TIMESTAMP),
        ({"date": date(2017, 12, 12)}, None),  # exactly 60 days back is still taken
        ({"date": date(2017, 12, 11)}, rules.TOO_OLD),
    ],
)
def test_refusal_rules(changes: dict[str, Any], reason: str | None) -> None:
    assert rules.refusal(_candidate(**changes), TODAY) == reason


def test_follow_up_sync_covers_the_submitted_dates() -> None:
    def result(day: date, outcome: str = "submitted") -> SubmitResult:
        return SubmitResult(1, 1, day, 1.0, outcome)  # type: ignore[arg-type]

    assert follow_up_sync([]) is None  # the original crashed on min([])
    assert follow_up_sync([result(date(2018, 2, 1), "refused")]) is None
    assert follow_up_sync([result(date(2018, 2, 3)), result(date(2018, 1, 2))]) == (
        date(2018, 1, 2),
        date(2018, 2, 3),
    )
    assert follow_up_sync([result(date(2017, 1, 1)), result(date(2017, 6, 30))]) is None


# --- end to end: API, stand-in, PostgreSQL, next sync -------------------------------------------


@pytest.fixture
async def world() -> TenkfeetWorld:
    return world_with_unsubmitted_hours()


@pytest.fixture
async def synced(engine: AsyncEngine, world: TenkfeetWorld) -> Any:
    async with clean_sessionmaker(engine) as sessionmaker:
        async with in_process_client(world) as client:
            await sync_users(sessionmaker, client)
            await sync_projects(sessionmaker, client)
            await sync_hours(sessionmaker, client, SYNC_START, SYNC_END)
        yield sessionmaker


@pytest.fixture
async def tenkfeet(world: TenkfeetWorld) -> AsyncIterator[TenkfeetClient]:
    async with in_process_client(world, max_retries=1) as client:
        yield client


@pytest.fixture
async def api(
    ic_settings: InvoiceCheckerSettings,
    synced: async_sessionmaker[AsyncSession],
    tenkfeet: TenkfeetClient,
    redis: ArqRedis,
) -> AsyncIterator[httpx.AsyncClient]:
    async with synced() as session:
        bob = await bearer(session, "Bob.Builder@example.com", "employee")
        await session.commit()
    app = create_app(ic_settings)
    app.dependency_overrides[tenkfeet_for_request] = lambda: tenkfeet
    app.dependency_overrides[local_today] = lambda: TODAY
    async with app_client(app) as client:
        client.headers.update(bob)
        yield client


async def _local(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[int, tuple[str, int | None]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(HourEntry.upstream_id, HourEntry.status, HourEntry.upstream_approvable_id)
        )
        return {upstream: (status, approval) for upstream, status, approval in rows}


async def _ids(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(HourEntry.upstream_id, HourEntry.id))
        return {row[0]: row[1] for row in rows.all()}


async def _february_webshop_hours(sessionmaker: async_sessionmaker[AsyncSession]) -> float:
    async with sessionmaker() as session:
        invoice_id = await session.scalar(
            select(HourEntry.invoice_id).where(HourEntry.upstream_id == 201)
        )
        invoice = await session.get(Invoice, invoice_id)
        assert invoice is not None and invoice.date == date(2018, 2, 1)
        return invoice.incurred_hours


async def test_submit_my_hours_end_to_end(
    api: httpx.AsyncClient,
    world: TenkfeetWorld,
    synced: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
) -> None:
    listed = await api.get("/api/v1/you/hours/unsubmitted")
    assert listed.status_code == 200
    assert [(e["upstream_id"], e["can_submit"], e["reason"]) for e in listed.json()] == [
        (202, True, None),
        (203, True, None),
        (201, True, None),
        (204, False, rules.TOO_OLD),
    ]
    # Someone edits entry 203 in 10000ft after the sync: its updated_at moves on.
    world.change_day(
        date(2018, 2, 8), "update", {"id": 203, "changes": {"updated_at": "2018-02-09T08:00:00Z"}}
    )
    ids = await _ids(synced)
    hours_before = await _february_webshop_hours(synced)

    answer = await api.post("/api/v1/you/hours/submit", json={})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    outcomes = {r["upstream_id"]: (r["outcome"], r["reason"]) for r in body["results"]}
    assert outcomes == {
        201: ("submitted", None),
        202: ("submitted", None),
        203: ("refused", rules.STALE),
        204: ("refused", rules.TOO_OLD),
    }
    assert (body["submitted"], body["refused"]) == (2, 2)

    # In 10000ft: pending approval for the two accepted entries only.
    assert [a["status"] for a in _approvals(world, 201)] == ["pending"]
    assert [a["status"] for a in _approvals(world, 202)] == ["pending"]
    assert _approvals(world, 203) == _approvals(world, 204) == []
    # Here: Pending Approval at once, with 10000ft's approval ids.
    local = await _local(synced)
    assert local[201] == ("Pending Approval", _approvals(world, 201)[0]["id"])
    assert local[202] == ("Pending Approval", _approvals(world, 202)[0]["id"])
    assert local[203][0] == local[204][0] == local[205][0] == "Unsubmitted"
    # The invoice's stats count submitted hours: Bob's 3 h + 2.5 h more than before.
    assert await _february_webshop_hours(synced) == pytest.approx(hours_before + 5.5)

    # An hour sync of the submitted dates was queued.
    assert body["sync_run_id"] is not None
    jobs = await redis.queued_jobs(queue_name="invoice_checker:queue")
    assert [(job.function, job.args) for job in jobs] == [(RUN_SYNC_JOB, (body["sync_run_id"],))]

    # The next sync reads the same status back from 10000ft.
    async with in_process_client(world) as client:
        await sync_hours(synced, client, date(2018, 2, 7), date(2018, 2, 8), force=True)
    after = await _local(synced)
    assert after[201] == local[201] and after[202] == local[202]
    assert after[203][0] == "Unsubmitted"

    # Named ids: the refusals say why; Carol's entry reads like a missing one and stays put.
    again = await api.post(
        "/api/v1/you/hours/submit", json={"entry_ids": [ids[201], ids[205], 987654321]}
    )
    assert again.status_code == 200
    named = {r["entry_id"]: (r["outcome"], r["reason"]) for r in again.json()["results"]}
    assert named == {
        ids[201]: ("refused", "Already submitted (Pending Approval)."),
        ids[205]: ("refused", rules.NOT_FOUND),
        987654321: ("refused", rules.NOT_FOUND),
    }
    assert again.json()["sync_run_id"] is None
    assert _approvals(world, 205) == []


async def test_an_unreachable_10000ft_changes_nothing(
    api: httpx.AsyncClient, world: TenkfeetWorld, synced: async_sessionmaker[AsyncSession]
) -> None:
    before = await _local(synced)
    world.faults.server_errors = 5
    answer = await api.post("/api/v1/you/hours/submit", json={})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Nothing was submitted" in answer.json()["detail"]
    assert await _local(synced) == before
    world.faults.server_errors = 0
    retried = await api.post("/api/v1/you/hours/submit", json={})
    assert retried.json()["submitted"] == 3


async def test_submit_needs_a_10000ft_person_and_a_sane_body(
    api: httpx.AsyncClient, synced: async_sessionmaker[AsyncSession]
) -> None:
    bad = await api.post(
        "/api/v1/you/hours/submit", json={"start": "2018-02-09", "end": "2018-02-01"}
    )
    assert bad.status_code == 422
    async with synced() as session:
        stranger = await bearer(session, "nobody@example.com", "admin")
        await session.commit()
    answer = await api.post("/api/v1/you/hours/submit", json={}, headers=stranger)
    assert answer.status_code == 404
    assert "nobody@example.com" in answer.json()["detail"]
    anonymous = await api.post(
        "/api/v1/you/hours/submit", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert anonymous.status_code == 401
