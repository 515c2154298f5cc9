"""The golden end-to-end sync vector (users, projects, four hour syncs) through the real client,
the stand-in and PostgreSQL. Where we fixed a bug of the original on purpose the expectation
differs from the vector, and the comment names the bug (spec section 15)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.jobs.sync import sync_hours, sync_projects, sync_users
from invoice_checker.store.directory import Project, ProjectAdmin, TenkfeetUser
from invoice_checker.store.hours import HourEntry, HourEntryChecksum
from invoice_checker.store.invoices import Invoice
from tests.invoice_checker.sync_support import (
    clean_sessionmaker,
    end_to_end_vector,
    in_process_client,
    vector_world,
)

VECTOR = end_to_end_vector()
START = date.fromisoformat(VECTOR["inputs"]["sync_range"]["start_date"])
END = date.fromisoformat(VECTOR["inputs"]["sync_range"]["end_date"])
STATS = (
    "incorrect_entries_count",
    "billable_incorrect_price_count",
    "non_billable_hours_count",
    "non_phase_specific_count",
    "not_approved_hours_count",
    "no_category_count",
    "empty_descriptions_count",
    "bill_rate_avg",
    "incurred_hours",
    "incurred_billable_hours",
    "billable_percentage",
    "incurred_money",
    "invoice_state",
    "is_approved",
    "has_comments",
)


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> Any:
    async with clean_sessionmaker(engine) as maker:
        yield maker


def _shown(value: Any) -> Any:
    """A column value as the vector writes it: ISO dates and times, UUIDs as text."""
    if isinstance(value, uuid.UUID):
        return str(value)
    return value.isoformat() if hasattr(value, "isoformat") else value


async def _entries(session: AsyncSession) -> dict[int, HourEntry]:
    rows = await session.scalars(select(HourEntry))
    return {row.upstream_id: row for row in rows}


async def _invoices(session: AsyncSession) -> dict[tuple[int | None, str], Invoice]:
    rows = await session.scalars(select(Invoice))
    return {(row.project.project_id, row.date.isoformat()): row for row in rows}


def _expected_invoices() -> dict[tuple[int, str], dict[str, Any]]:
    expected = {
        (row["project_id"], row["date"]): dict(row)
        for row in VECTOR["expected_first_run"]["invoices_after_refresh_invoice_stats"]
    }
    # 15.3 fixed: no_category_count is stored (the original left it 0 while counting it).
    expected[(1000, "2018-02-01")]["no_category_count"] = 1
    expected[(999999, "2018-02-01")]["no_category_count"] = 1
    # 15.5 fixed: the month of the range's start is refreshed too; entry 9 (5 h at 40 €/h,
    # approved) is January's only entry, and 40 €/h is outside the proper band.
    expected[(1000, "2018-01-01")].update(
        incurred_hours=5.0,
        incurred_billable_hours=5.0,
        incurred_money=200.0,
        bill_rate_avg=40.0,
        billable_percentage=1.0,
        billable_incorrect_price_count=1,
        incorrect_entries_count=1,
    )
    return expected


async def test_vector_users_projects_and_four_hour_syncs(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = vector_world(VECTOR)
    async with in_process_client(world) as client:
        users = await sync_users(sessionmaker, client)
        projects = await sync_projects(sessionmaker, client)
        assert (users.added, users.skipped) == (3, 1)  # the user without e-mail is skipped
        assert projects.added == 3

        async with sessionmaker() as session:
            stored = {u.guid.hex: u for u in await session.scalars(select(TenkfeetUser))}
            for expected in VECTOR["expected_after_user_sync"]:
                user = stored[expected["guid"].replace("-", "")]
                for key, value in expected.items():
                    assert _shown(getattr(user, key)) == value, key

            admins = {
                project.project_id: sorted(
                    email
                    for (email,) in await session.execute(
                        select(TenkfeetUser.email)
                        .join(ProjectAdmin, ProjectAdmin.user_guid == TenkfeetUser.guid)
                        .where(ProjectAdmin.project_guid == project.guid)
                    )
                )
                for project in await session.scalars(select(Project))
            }
            clients = {p.project_id: p.client.name for p in await session.scalars(select(Project))}
        # 15.7 fixed: admins are the union of every tag's users (the original kept only Bob).
        assert admins[1000] == ["alice.admin@example.com", "bob.builder@example.com"]
        assert admins[2000] == ["carol.coder@example.com"]
        assert admins[3000] == []
        # 15.8 fixed: a project without client is "[none]", as its hour entries say.
        assert clients == {1000: "ACME Oy", 2000: "Solinor", 3000: "[none]"}

        # First run: every entry with hours arrives with all its columns.
        first = await sync_hours(sessionmaker, client, START, END)
        assert (first.added, first.updated, first.deleted) == (9, 0, 0)
        async with sessionmaker() as session:
            entries = await _entries(session)
            invoices = await _invoices(session)
            checksum_days = sorted(
                d.isoformat() for d in await session.scalars(select(HourEntryChecksum.date))
            )
        assert sorted(entries) == [1, 2, 3, 4, 5, 6, 7, 9, 10]
        for expected in VECTOR["expected_first_run"]["hour_entries"]:
            entry = entries[expected["upstream_id"]]
            for key, value in expected.items():
                if key == "invoice_project_id":
                    project_id = next(
                        pid for (pid, month), inv in invoices.items() if inv.id == entry.invoice_id
                    )
                    assert project_id == (None if value == 999999 else value)
                elif key == "invoice_month":
                    assert (
                        next(
                            month
                            for (_, month), inv in invoices.items()
                            if inv.id == entry.invoice_id
                        )
                        == value
                    )
                elif key == "user_m_guid":
                    assert str(entry.user_guid) == value
                else:
                    assert _shown(getattr(entry, key)) == value, (expected["upstream_id"], key)
        # Every day of the range has a checksum now: empty days too (so emptied days show).
        assert len(checksum_days) == (END - START).days + 1

        expected_invoices = _expected_invoices()
        assert {(999999 if p is None else p, m) for p, m in invoices} == set(expected_invoices)
        for (project_id, month), invoice in invoices.items():
            expected = expected_invoices[(999999 if project_id is None else project_id, month)]
            for key in STATS:
                assert getattr(invoice, key) == pytest.approx(expected[key]), (project_id, key)

        # Second run, same data: every day is skipped by its checksum.
        second = await sync_hours(sessionmaker, client, START, END)
        assert (second.added, second.updated, second.deleted) == (0, 0, 0)
        assert second.unchanged == (END - START).days + 1

        # Third run: entry 2 removed upstream, entry 1 changed.
        world.change_day(date(2018, 2, 6), "delete", {"ids": [2]})
        world.change_day(
            date(2018, 2, 5),
            "update",
            {"id": 1, "changes": {"hours": 6.0, "updated_at": "2018-02-08T12:00:00Z"}},
        )
        third = await sync_hours(sessionmaker, client, START, END)
        assert (third.added, third.updated, third.deleted) == (0, 1, 1)
        async with sessionmaker() as session:
            entries = await _entries(session)
        assert sorted(entries) == VECTOR["expected_third_run"]["upstream_ids_present"]
        assert entries[1].incurred_hours == VECTOR["expected_third_run"]["entry_1_hours"]

        # Fourth run: 2018-02-07 emptied upstream. 15.6 fixed: its entry is deleted although no
        # other day changed (the vector keeps entry 10).
        world.change_day(date(2018, 2, 7), "empty", {})
        fourth = await sync_hours(sessionmaker, client, START, END)
        assert (fourth.added, fourth.updated, fourth.deleted) == (0, 0, 1)
        async with sessionmaker() as session:
            entries = await _entries(session)
            invoices = await _invoices(session)
        assert sorted(entries) == [1, 3, 4, 5, 6, 7, 9]
        sales = invoices[(3000, "2018-02-01")]
        assert (sales.incurred_hours, sales.incorrect_entries_count) == (0, 0)
        webshop = invoices[(1000, "2018-02-01")]
        # 6 + 4 + 3 counted hours (entry 3 is Unsubmitted, entry 2 is gone).
        assert webshop.incurred_hours == pytest.approx(13.0)
