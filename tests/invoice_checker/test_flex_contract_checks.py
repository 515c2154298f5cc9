"""Contract checks (15.13): judged per person, no crash without a `set_to`, admins told."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from devtools.simulators.invoice_checker.slack import SlackSimulator
from invoice_checker.domain.flex import Contract, Correction, contract_problems
from invoice_checker.jobs.flex import check_contracts
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.flex import FlexTimeCorrection, WorkContract
from invoice_checker.store.syncs import Event
from tests.invoice_checker.directory_factories import (
    make_entry,
    make_invoice,
    make_project,
    make_user,
)
from tests.invoice_checker.slack_support import (  # noqa: F401 (fixtures)
    ADMINS,
    slack_settings_fixture,
    slack_standin_fixture,
)

YEAR_2018 = Contract(date(2018, 1, 1), date(2018, 12, 31))


def contract(user_guid: uuid.UUID, start: date, end: date) -> WorkContract:
    return WorkContract(user_guid=user_guid, start_date=start, end_date=end)


def test_adjust_by_outside_contracts_without_any_set_to_is_reported_not_a_crash() -> None:
    problems = contract_problems(
        "a@example.com", [YEAR_2018], [Correction(date(2017, 12, 1), adjust_by=5)], []
    )
    assert problems == [
        "Flex correction of +5.00h on 2017-12-01 for a@example.com is outside every contract"
    ]


def test_adjust_by_before_the_latest_set_to_is_ignored_like_the_calculation_does() -> None:
    corrections = [
        Correction(date(2017, 12, 1), adjust_by=5),
        Correction(date(2018, 2, 1), set_to=3),
    ]
    assert contract_problems("a@example.com", [YEAR_2018], corrections, []) == []


def test_people_without_contracts() -> None:
    assert contract_problems(
        "b@example.com",
        [],
        [Correction(date(2018, 1, 1), set_to=0)],
        [date(2017, 9, 1), date(2017, 11, 2), date(2017, 10, 3)],
    ) == [
        "Flex corrections for b@example.com, who has no contracts",
        "No contract for b@example.com (2017-10-03)",
    ]


async def test_entries_are_checked_against_the_persons_own_contracts(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    """The original accepted an entry date covered by anybody's contract."""
    covered = await make_user(db_session, "Cora", "Covered", email="cora@example.com")
    uncovered = await make_user(db_session, "Uma", "Uncovered", email="uma@example.com")
    db_session.add(
        WorkContract(
            user_guid=covered.guid, start_date=date(2018, 1, 1), end_date=date(2018, 12, 31)
        )
    )
    db_session.add(
        WorkContract(
            user_guid=uncovered.guid, start_date=date(2018, 3, 1), end_date=date(2018, 12, 31)
        )
    )
    db_session.add(FlexTimeCorrection(user_guid=uncovered.guid, date=date(2018, 2, 2), adjust_by=1))
    invoice = await make_invoice(db_session, await make_project(db_session), date(2018, 2, 1))
    for person in (covered, uncovered):
        await make_entry(db_session, person, invoice, date(2018, 2, 5), 7.5)

    message = await check_contracts(db_session, slack_settings, date(2018, 3, 10))

    assert message.startswith("Found 2 contract problems; Sent 2 contract check messages")
    event = (
        await db_session.execute(select(Event).where(Event.event_type == "check_contracts"))
    ).scalar_one()
    assert event.details == {
        "problems": [
            "Flex correction of +1.00h on 2018-02-02 for uma@example.com is outside every contract",
            "Hour entries of uma@example.com on 1 days outside their contracts (first 2018-02-05)",
        ]
    }
    posts = slack_standin.sent("chat.postMessage")
    assert [p["channel"] for p in posts] == list(ADMINS)
    assert "uma@example.com" in posts[0]["text"] and "cora@example.com" not in posts[0]["text"]


async def test_a_contract_gap_is_found_by_running_the_calculation(
    db_session: AsyncSession, slack_settings: InvoiceCheckerSettings, slack_standin: SlackSimulator
) -> None:
    user = await make_user(db_session, email="gap@example.com")
    for start, end in (
        (date(2018, 1, 1), date(2018, 1, 31)),
        (date(2018, 2, 5), date(2018, 12, 31)),
    ):
        db_session.add(WorkContract(user_guid=user.guid, start_date=start, end_date=end))
    await check_contracts(db_session, slack_settings, date(2018, 3, 1))
    [post, _] = slack_standin.sent("chat.postMessage")
    assert (
        "- Flex saldo of gap@example.com cannot be computed: Hour markings for 2018-02-01 for "
        "Alice Admin, but no contract." in post["text"]
    )


async def test_nothing_to_report_still_writes_an_event(
    db_session: AsyncSession, slack_settings: InvoiceCheckerSettings, slack_standin: SlackSimulator
) -> None:
    assert await check_contracts(db_session, slack_settings, date(2018, 3, 1)) == (
        "Found 0 contract problems"
    )
    assert slack_standin.calls == []
