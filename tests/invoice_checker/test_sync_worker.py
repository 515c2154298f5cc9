"""Syncs requested through the API and run by the real arq worker against the 10000ft stand-in
over HTTP: exact counts and per-project invoice hours after the first sync, after changes and
deletions, and after a day emptied upstream."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.jobs.worker import build_worker_settings
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from tests.invoice_checker.auth_helpers import bearer
from tests.invoice_checker.sync_support import (
    TOKEN,
    clean_sessionmaker,
    end_to_end_vector,
    served,
    vector_world,
)
from tests.support.apps import app_client

VECTOR = end_to_end_vector()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> Any:
    async with clean_sessionmaker(engine) as maker:
        yield maker


async def run_worker(settings: InvoiceCheckerSettings) -> None:
    """The service's own worker settings, in burst mode: run what is queued, then stop."""
    options = build_worker_settings(settings) | {"poll_delay": 0.05, "handle_signals": False}
    worker = Worker(**options, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()


async def sync_through_api(
    api: httpx.AsyncClient, settings: InvoiceCheckerSettings, request: dict[str, Any]
) -> dict[str, Any]:
    queued = await api.post("/api/v1/syncs", json=request)
    assert queued.status_code == 202, queued.text
    await run_worker(settings)
    run = (await api.get(f"/api/v1/syncs/{queued.json()['id']}")).json()
    assert run["status"] == "succeeded", run
    return run


async def invoice_hours(api: httpx.AsyncClient, month: str) -> dict[str, float]:
    page = (await api.get("/api/v1/invoices", params={"month": month})).json()
    return {item["project"]["name"]: item["incurred_hours"] for item in page["items"]}


async def test_syncs_requested_over_the_api_and_run_by_the_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_url: str,
    redis: ArqRedis,  # flushed: no job of another test is waiting
) -> None:
    world = vector_world(VECTOR)
    async with sessionmaker() as session:
        headers = await bearer(session, "worker-sync-admin@example.com", "admin")
        await session.commit()
    with served(world) as url:
        settings = InvoiceCheckerSettings(
            database_url=database_url,
            redis_url=redis_url,
            tenkfeet_api_url=url,
            tenkfeet_api_token=TOKEN,
        )
        async with app_client(create_app(settings)) as api:
            api.headers.update(headers)
            users = await sync_through_api(api, settings, {"kind": "users"})
            assert (users["added"], users["skipped"]) == (3, 1)
            await sync_through_api(api, settings, {"kind": "projects"})
            hours = {"kind": "hours", "start": "2018-01-29", "end": "2018-02-09"}
            first = await sync_through_api(api, settings, hours)
            assert (first["added"], first["progress"], first["days_total"]) == (9, 1.0, 12)
            assert await invoice_hours(api, "2018-02") == {
                "Webshop": 16.5,
                "Solinor": 7.5,
                "Sales work": 1.5,
                "[Leave Type]": 7.5,
            }
            assert await invoice_hours(api, "2018-01") == {"Webshop": 5.0}

            world.change_day(date(2018, 2, 6), "delete", {"ids": [2]})
            world.change_day(
                date(2018, 2, 5),
                "update",
                {"id": 1, "changes": {"hours": 6.0, "updated_at": "2018-02-08T12:00:00Z"}},
            )
            world.change_day(date(2018, 2, 7), "empty", {})
            second = await sync_through_api(api, settings, hours)
            assert (second["added"], second["updated"], second["deleted"]) == (0, 1, 2)
            assert second["unchanged"] == 9
            assert await invoice_hours(api, "2018-02") == {
                "Webshop": 13.0,
                "Solinor": 7.5,
                "Sales work": 0.0,
                "[Leave Type]": 7.5,
            }
            entries = (await api.get("/api/v1/hour-entries", params=hours | {"kind": None})).json()
            assert entries["total"] == 7
