"""Public holidays from 10000ft (spec 5.1, the sync's holidays kind) feeding the flex saldo:
added, renamed and dropped holidays follow 10000ft, and a synced holiday is a day off in flex."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.flex import calculate_flex_saldo
from invoice_checker.jobs.runtime import checker_jobs
from invoice_checker.jobs.sync import sync_holidays
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.tenkfeet import fixture_world
from invoice_checker.store.directory import PublicHoliday
from invoice_checker.store.flex import WorkContract, load_flex_inputs
from invoice_checker.store.syncs import Event
from tests.invoice_checker.directory_factories import make_user
from tests.invoice_checker.job_context import job_ctx
from tests.invoice_checker.sync_support import TOKEN, in_process_client

STAMP = "2017-12-01T10:00:00Z"


def holiday(upstream_id: int, day: str, name: str, updated_at: str = STAMP) -> dict[str, object]:
    return {
        "id": upstream_id,
        "date": day,
        "name": name,
        "created_at": STAMP,
        "updated_at": updated_at,
    }


async def test_holidays_follow_10000ft_and_count_in_flex(
    db_session: AsyncSession, ic_settings: InvoiceCheckerSettings
) -> None:
    sessionmaker = checker_jobs(job_ctx(db_session, ic_settings)).sessions
    world = fixture_world(
        {"holidays": [holiday(1, "2018-01-01", "New Year's Day"), holiday(2, "2018-01-05", "Eve")]},
        token=TOKEN,
    )
    async with in_process_client(world) as client:
        first = await sync_holidays(sessionmaker, client)
        world.holidays = [
            holiday(1, "2018-01-01", "New Year's Day"),
            holiday(3, "2018-01-06", "Epiphany"),
            holiday(4, "2018-01-02", "Bank holiday", updated_at="2017-12-02T10:00:00Z"),
        ]
        second = await sync_holidays(sessionmaker, client)

    assert (first.added, first.updated, first.deleted) == (2, 0, 0)
    assert (second.added, second.updated, second.deleted, second.unchanged) == (2, 0, 1, 1)
    stored = await db_session.execute(select(PublicHoliday.date, PublicHoliday.name))
    assert sorted(stored.all()) == [
        (date(2018, 1, 1), "New Year's Day"),
        (date(2018, 1, 2), "Bank holiday"),
        (date(2018, 1, 6), "Epiphany"),
    ]
    events = await db_session.execute(
        select(Event.message).where(Event.event_type == "sync_public_holidays").order_by(Event.id)
    )
    assert len(events.all()) == 2

    user = await make_user(db_session)
    db_session.add(
        WorkContract(user_guid=user.guid, start_date=date(2018, 1, 1), end_date=date(2018, 12, 31))
    )
    await db_session.flush()
    result = calculate_flex_saldo(await load_flex_inputs(db_session, user, today=date(2018, 1, 8)))
    day_types = {row["date"]: row["day_type"] for row in result.daily_log}
    assert day_types["2018-01-01"] == "Public holiday: New Year's Day"
    assert day_types["2018-01-02"] == "Public holiday: Bank holiday"
    assert day_types["2018-01-05"] == "Weekday"  # dropped by 10000ft: an ordinary day again
    assert day_types["2018-01-06"] == "Weekend"  # a Saturday stays a weekend
    # 3, 4, 5 January unmarked weekdays; KIKY January 2 h.
    assert result.cumulative_saldo == -24.5
