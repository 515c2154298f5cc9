"""The data behind the part-2 pages: everyone's flex saldo, the hours overview, billing ratio
month by month, client hours, and AWS accounts with their costs and links."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.aws_billing import ACCOUNT_TOTAL
from invoice_checker.store.aws import AmazonInvoiceRow, AmazonLinkedAccount, UserAmazonAccount
from invoice_checker.store.checking import currency_totals
from invoice_checker.store.events import record_event
from invoice_checker.store.flex import (
    NO_CONTRACTS,
    FlexTimeCorrection,
    PersonSaldo,
    WorkContract,
    everyones_saldo,
)
from invoice_checker.store.invoice_stats import month_end
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.overviews import (
    Tally,
    aws_accounts,
    aws_month_split,
    billing_ratio_by_month,
    client_hours,
    hours_overview,
    latest_events,
    link_project,
    person_project_hours,
    recent_events,
    unlink_project,
)
from tests.invoice_checker.directory_factories import (
    make_client,
    make_entry,
    make_invoice,
    make_project,
    make_user,
)

YEAR = (date(2018, 1, 1), date(2018, 12, 31))


async def test_everyones_saldo_lowest_first_with_the_reasons(db_session: AsyncSession) -> None:
    high = await make_user(db_session, "High", "Saldo", email="high@example.com")
    low = await make_user(db_session, "Low", "Saldo", email="low@example.com")
    fine = await make_user(db_session, "Fine", "Saldo", email="fine@example.com")
    gap = await make_user(db_session, "Gap", "Person", email="gap@example.com")
    none = await make_user(db_session, "No", "Contract", email="none@example.com")
    await make_user(db_session, "Gone", "Person", email="gone@example.com", archived=True)
    for person in (high, low, fine):
        db_session.add(WorkContract(user_guid=person.guid, start_date=YEAR[0], end_date=YEAR[1]))
    db_session.add(WorkContract(user_guid=gap.guid, start_date=YEAR[0], end_date=date(2018, 1, 31)))
    db_session.add(WorkContract(user_guid=gap.guid, start_date=date(2018, 2, 5), end_date=YEAR[1]))
    for person, saldo in ((high, 130), (low, -50), (fine, 10)):
        db_session.add(
            FlexTimeCorrection(user_guid=person.guid, date=date(2018, 3, 1), set_to=saldo)
        )
    await db_session.flush()

    people = await everyones_saldo(db_session, date(2018, 3, 2), include_inactive=True)

    assert [(p.email, p.saldo, p.band) for p in people] == [
        # 1 March is processed unmarked (-7.5 h) and March's KIKY is -2 h.
        ("low@example.com", -59.5, "below"),
        ("fine@example.com", 0.5, None),
        ("high@example.com", 120.5, "above"),
        ("gap@example.com", None, None),
        ("none@example.com", None, None),
    ]
    assert people[0] == PersonSaldo(low.guid, "low@example.com", "Low Saldo", -59.5, -2.0)
    assert people[3].problem == "Hour markings for 2018-02-01 for Gap Person, but no contract."
    assert people[4].guid == none.guid
    assert people[4].problem == NO_CONTRACTS
    # Without include_inactive, people without a contract that day are left out (as the monthly
    # notice leaves them); with it, everyone is listed.
    active = await everyones_saldo(db_session, date(2018, 3, 2))
    assert "none@example.com" not in [p.email for p in active]
    later = await everyones_saldo(db_session, date(2019, 1, 2), include_inactive=True)
    # Nobody is dropped: without markings the calculation runs to yesterday, past the contract,
    # so the page says why (the original's rule for the last day).
    assert {p.email: p.problem for p in later} == {
        "fine@example.com": "Hour markings for 2019-01-01 for Fine Saldo, but no contract.",
        "gap@example.com": "Hour markings for 2018-02-01 for Gap Person, but no contract.",
        "high@example.com": "Hour markings for 2019-01-01 for High Saldo, but no contract.",
        "low@example.com": "Hour markings for 2019-01-01 for Low Saldo, but no contract.",
        "none@example.com": NO_CONTRACTS,
    }
    assert await everyones_saldo(db_session, date(2019, 1, 2)) == []


async def test_hours_overview_by_status_and_flag(db_session: AsyncSession) -> None:
    person = await make_user(db_session)
    project = await make_project(db_session)
    january = await make_invoice(db_session, project, date(2018, 1, 1))
    february = await make_invoice(db_session, project, date(2018, 2, 1))
    await make_entry(db_session, person, january, date(2018, 1, 3), 7.5, status="Approved")
    await make_entry(db_session, person, january, date(2018, 1, 4), 2.0, status="Unsubmitted")
    await make_entry(
        db_session, person, january, date(2018, 1, 4), 1.5, status="Pending Approval", notes=""
    )
    await make_entry(
        db_session,
        person,
        february,
        date(2018, 2, 1),
        4.0,
        status="Pending Approval",
        calculated_has_notes=False,
        calculated_is_overtime=True,
    )
    await make_entry(db_session, person, february, date(2018, 2, 2), 0.0)  # no hours: left out
    await make_entry(db_session, person, february, date(2018, 3, 1), 3.0)  # outside the range

    months = await hours_overview(db_session, first=date(2018, 1, 1), last=date(2018, 2, 28))

    assert [m.month for m in months] == [date(2018, 2, 1), date(2018, 1, 1)]
    feb, jan = months
    assert jan.total == Tally(3, 11.0)
    assert jan.by_status == {
        "Unsubmitted": Tally(1, 2.0),
        "Pending Approval": Tally(1, 1.5),
        "Approved": Tally(1, 7.5),
    }
    assert feb.by_status["Pending Approval"] == Tally(1, 4.0)
    assert feb.by_flag["no_notes"] == Tally(1, 4.0)
    assert feb.by_flag["overtime"] == Tally(1, 4.0)
    # make_entry leaves the calculated flags at their defaults: not billable, nothing missing.
    assert jan.by_flag["not_billable"] == Tally(3, 11.0)
    assert jan.by_flag["no_notes"] == jan.by_flag["no_phase"] == Tally(0, 0.0)


async def test_billing_ratio_and_client_hours_month_by_month(db_session: AsyncSession) -> None:
    alice = await make_user(db_session, "Alice", "Aalto")
    bob = await make_user(db_session, "Bob", "Builder")
    acme = await make_project(db_session, "Webshop", client=await make_client(db_session, "ACME"))
    globex = await make_project(
        db_session, "Portal", client=await make_client(db_session, "Globex")
    )
    invoices = {
        (p.name, m): await make_invoice(db_session, p, date(2018, m, 1))
        for p in (acme, globex)
        for m in (1, 2)
    }
    billable: dict[str, Any] = {"calculated_is_billable": True}
    await make_entry(db_session, alice, invoices["Webshop", 1], date(2018, 1, 2), 6.0, **billable)
    await make_entry(db_session, alice, invoices["Webshop", 1], date(2018, 1, 2), 2.0)
    await make_entry(db_session, alice, invoices["Webshop", 2], date(2018, 2, 1), 4.0, **billable)
    await make_entry(db_session, bob, invoices["Portal", 2], date(2018, 2, 1), 5.0, client="Globex")
    await make_entry(
        db_session,
        bob,
        invoices["Portal", 2],
        date(2018, 2, 2),
        3.0,
        status="Unsubmitted",
        client="Globex",
    )

    months, ratios = await billing_ratio_by_month(
        db_session, first=date(2018, 1, 1), last=date(2018, 2, 28)
    )
    assert months == ["2018-01", "2018-02"]
    assert ratios == {
        "Alice Aalto": {"2018-01": 75.0, "2018-02": 100.0},
        "Bob Builder": {"2018-02": 0.0},  # unsubmitted hours do not count
    }
    projects = await person_project_hours(
        db_session, alice.guid, first=date(2018, 1, 1), last=date(2018, 1, 31)
    )
    assert [(p.project, p.hours, p.billable_hours, p.billable_share) for p in projects] == [
        ("Webshop", 8.0, 6.0, 75.0)
    ]
    bobs = await person_project_hours(
        db_session, bob.guid, first=date(2018, 2, 1), last=date(2018, 2, 28)
    )
    assert [(p.client, p.project, p.hours) for p in bobs] == [("Globex", "Portal", 5.0)]
    hours = await client_hours(db_session, first=date(2018, 1, 1), last=date(2018, 2, 28))
    # Unsubmitted hours are work done for the client all the same (the client report's rule).
    assert hours == {"Acme": pytest.approx(12.0), "Globex": pytest.approx(8.0)}


async def _account(
    session: AsyncSession, account_id: str, name: str, *costs: tuple[date, float]
) -> None:
    session.add(AmazonLinkedAccount(linked_account_id=account_id, name=name))
    await session.flush()
    for month, cost in costs:
        for record_type, amount in ((ACCOUNT_TOTAL, cost), ("LinkedLineItem", cost / 2)):
            session.add(
                AmazonInvoiceRow(
                    record_id=f"{account_id}-{record_type}-{month}",
                    invoice_month=month,
                    linked_account_id=account_id,
                    record_type=record_type,
                    billing_period_start=datetime(month.year, month.month, 1, tzinfo=UTC),
                    billing_period_end=datetime(
                        month.year, month.month, month_end(month).day, 23, 59, 59, tzinfo=UTC
                    ),
                    product_code="AmazonEC2",
                    usage_type="BoxUsage",
                    item_description="",
                    total_cost=amount,
                    currency="USD",
                )
            )
    await session.flush()


async def _usd_by_month(session: AsyncSession, project_guid: uuid.UUID) -> dict[date, float | None]:
    invoices = list(
        await session.scalars(select(Invoice).where(Invoice.project_guid == project_guid))
    )
    totals = await currency_totals(session, [i.id for i in invoices])
    return {i.date: totals[i.id].get("USD") for i in invoices}


async def test_aws_accounts_costs_links_and_the_months_split(db_session: AsyncSession) -> None:
    jan, feb = date(2018, 1, 1), date(2018, 2, 1)
    project = await make_project(
        db_session, "Hosting", client=await make_client(db_session, "ACME")
    )
    person = await make_user(db_session, "Olli", "Ops")
    await _account(db_session, "111", "acme-prod", (jan, 100.0), (feb, 120.0))
    await _account(db_session, "222", "Olli Ops", (feb, 7.5))
    await _account(db_session, "333", "forgotten", (feb, 3.25))
    db_session.add(UserAmazonAccount(user_guid=person.guid, linked_account_id="222"))
    await db_session.flush()

    linked = await link_project(db_session, "111", project.guid)
    assert (linked.created, linked.invoices_created) == (True, 2)  # January and February
    assert (await link_project(db_session, "111", project.guid)).created is False
    # The linked account's costs are on the project's invoices at once.
    assert await _usd_by_month(db_session, project.guid) == {jan: 100.0, feb: 120.0}

    accounts = await aws_accounts(db_session, months=[jan, feb])
    assert [a.name for a in accounts] == ["acme-prod", "forgotten", "Olli Ops"]
    acme = accounts[0]
    assert acme.costs == {jan: {"USD": 100.0}, feb: {"USD": 120.0}}  # AccountTotal rows only
    assert [(p.guid, p.client, p.name) for p in acme.projects] == [
        (project.guid, "ACME", "Hosting")
    ]
    assert [p.name for p in accounts[2].people] == ["Olli Ops"]
    split = aws_month_split(accounts, feb)
    assert (split.projects, split.people, split.unlinked) == (
        {"USD": 120.0},
        {"USD": 7.5},
        {"USD": 3.25},
    )
    assert (split.linked_accounts, split.unlinked_accounts) == (2, 1)
    [one] = await aws_accounts(db_session, months=[feb], account_id="333")
    assert one.costs == {feb: {"USD": 3.25}} and not one.linked

    assert await unlink_project(db_session, "111", project.guid) is True
    assert await unlink_project(db_session, "111", project.guid) is False
    assert await _usd_by_month(db_session, project.guid) == {jan: None, feb: None}
    assert (await aws_accounts(db_session, months=[feb], account_id="111"))[0].projects == []


async def test_latest_and_recent_events(db_session: AsyncSession) -> None:
    for event_type, message, ok in (
        ("sync_10000ft_users", "first", True),
        ("sync_10000ft_users", "second", False),
        ("cleanup", "tidy", True),
    ):
        await record_event(db_session, event_type, message, succeeded=ok)
        await db_session.flush()
    latest = await latest_events(db_session, ["sync_10000ft_users", "cleanup", "never"])
    assert {k: (e.message, e.succeeded) for k, e in latest.items()} == {
        "sync_10000ft_users": ("second", False),
        "cleanup": ("tidy", True),
    }
    assert await latest_events(db_session, []) == {}
    recent = await recent_events(db_session, limit=2)
    assert [e.message for e in recent] == ["tidy", "second"]
