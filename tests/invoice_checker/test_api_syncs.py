"""The sync, hour-entry and invoice routes: shapes, paging, filters and problem+json errors."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.jobs.sync import sync_hours, sync_projects, sync_users
from invoice_checker.jobs.sync_runs import RUN_SYNC_JOB
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from tests.invoice_checker.auth_helpers import bearer
from tests.invoice_checker.sync_support import (
    clean_sessionmaker,
    end_to_end_vector,
    in_process_client,
    vector_world,
)
from tests.support.apps import app_client

VECTOR = end_to_end_vector()


@pytest.fixture
async def synced(engine: AsyncEngine) -> Any:
    """The vector's data synced for real (committed), cleaned up afterwards."""
    async with clean_sessionmaker(engine) as sessionmaker:
        async with in_process_client(vector_world(VECTOR)) as client:
            await sync_users(sessionmaker, client)
            await sync_projects(sessionmaker, client)
            await sync_hours(sessionmaker, client, date(2018, 1, 29), date(2018, 2, 9))
        yield sessionmaker


@pytest.fixture
async def api(ic_settings: InvoiceCheckerSettings, synced: async_sessionmaker[AsyncSession]) -> Any:
    async with synced() as session:  # every route needs a signed-in caller (G's permissions)
        headers = await bearer(session, "sync-tests-admin@example.com", "admin")
        await session.commit()
    async with app_client(create_app(ic_settings)) as client:
        client.headers.update(headers)
        yield client


async def test_hour_entries_page_shape_and_filters(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/api/v1/hour-entries", params={"start": "2018-02-05", "end": "2018-02-06"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["page_size"]) == (7, 1, 100)
    first = body["items"][0]
    assert first["upstream_id"] == 1
    assert first["date"] == "2018-02-05"
    assert first["hours"] == 7.5
    assert first["user"] == {
        "upstream_id": 101,
        "email": "alice.admin@example.com",
        "name": "Alice Admin",
    }
    assert first["project"]["upstream_id"] == 1000
    assert first["project"]["name"] == "Webshop"
    assert first["project"]["client"] == "ACME Oy"
    assert (first["phase_name"], first["status"], first["billable"]) == (
        "Development",
        "Approved",
        True,
    )
    # The end day is included, and leave entries are listed too.
    leave = [item for item in body["items"] if item["leave_type"] != "[project]"]
    assert [(item["upstream_id"], item["project"]["name"]) for item in leave] == [
        (7, "[Leave Type]")
    ]

    by_user = await api.get("/api/v1/hour-entries", params={"user": "carol.coder@example.com"})
    assert sorted(item["upstream_id"] for item in by_user.json()["items"]) == [6, 7, 9, 10]
    by_id = await api.get("/api/v1/hour-entries", params={"user": "102", "project": "1000"})
    assert sorted(item["upstream_id"] for item in by_id.json()["items"]) == [4, 5]

    paged = await api.get("/api/v1/hour-entries", params={"page": 2, "page_size": 4})
    assert paged.json()["total"] == 9
    assert [item["upstream_id"] for item in paged.json()["items"]] == [6, 2, 3, 7]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2018-02-06", "end": "2018-02-05"},
        {"start": "2018-13-01"},
        {"page_size": 1001},
        {"page": 0},
        {"project": "not-a-project"},
    ],
)
async def test_hour_entries_bad_queries_are_422_problems(
    api: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await api.get("/api/v1/hour-entries", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 422


async def test_invoices_of_a_month(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/invoices", params={"month": "2018-02", "page_size": 1000})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 4
    webshop = next(item for item in body["items"] if item["project"]["upstream_id"] == 1000)
    assert webshop["month"] == "2018-02"
    assert webshop["project"] == {
        "upstream_id": 1000,
        "guid": "aaaaaaaa-0000-0000-0000-000000000001",
        "name": "Webshop",
        "client": "ACME Oy",
    }
    assert webshop["state"] == "C"
    assert (webshop["incurred_hours"], webshop["incurred_billable_hours"]) == (16.5, 12.5)
    assert webshop["incurred_money"] == 1310.0
    assert webshop["billable_percentage"] == pytest.approx(12.5 / 16.5)
    assert (webshop["incorrect_entries_count"], webshop["no_category_count"]) == (3, 1)
    january = await api.get("/api/v1/invoices", params={"month": "2018-01"})
    assert [item["incurred_hours"] for item in january.json()["items"]] == [5.0]
    bad = await api.get("/api/v1/invoices", params={"month": "2018-2"})
    assert bad.status_code == 422
    assert bad.json()["type"] == "urn:problem:validation"


async def test_post_sync_queues_a_run_and_collapses_duplicates(
    api: httpx.AsyncClient, redis: ArqRedis
) -> None:
    request = {"kind": "hours", "start": "2018-02-01", "end": "2018-02-28", "force": True}
    first = await api.post("/api/v1/syncs", json=request)
    assert first.status_code == 202
    run = first.json()
    assert (run["kind"], run["status"], run["start"], run["end"], run["force"]) == (
        "hours",
        "queued",
        "2018-02-01",
        "2018-02-28",
        True,
    )
    again = await api.post("/api/v1/syncs", json=request)
    assert again.json()["id"] == run["id"]  # still waiting: the same run
    jobs = await redis.queued_jobs(queue_name="invoice_checker:queue")
    assert [(job.function, job.args) for job in jobs] == [(RUN_SYNC_JOB, (run["id"],))]

    shown = await api.get(f"/api/v1/syncs/{run['id']}")
    assert shown.json()["progress"] == 0.0
    listed = await api.get("/api/v1/syncs")
    assert [item["id"] for item in listed.json()["items"]] == [run["id"]]
    missing = await api.get("/api/v1/syncs/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "hours", "start": "2018-02-10", "end": "2018-02-01"},
        {"kind": "hours", "start": "2017-01-01", "end": "2018-02-01"},
        {"kind": "users", "start": "2018-01-01"},
        {"kind": "everything"},
    ],
)
async def test_bad_sync_requests_are_422(api: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await api.post("/api/v1/syncs", json=body)
    assert response.status_code == 422
    assert response.json()["type"] == "urn:problem:validation"
