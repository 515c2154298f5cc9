"""Slack jobs against the Slack stand-in: users/channels sync, the weekly unsubmitted and
unapproved notices (the unapproved one works, 15.1), and the monthly flex notices (15.12)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.adapters.slack import SlackNotConfigured
from invoice_checker.domain.slack_messages import flex_notice_attachment, flex_notice_text
from invoice_checker.jobs.flex import send_flex_notices
from invoice_checker.jobs.slack import (
    announce_new_projects,
    notice_range,
    send_unapproved_notices,
    send_unsubmitted_notices,
    sync_slack_channels,
    sync_slack_users,
)
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.slack import SlackSimulator, SlackWorkspace
from invoice_checker.store.directory import ProjectAdmin, TenkfeetUser
from invoice_checker.store.flex import FlexTimeCorrection, WorkContract
from invoice_checker.store.slack import SlackChannel
from tests.invoice_checker.directory_factories import (
    make_client,
    make_entry,
    make_invoice,
    make_project,
    make_user,
)
from tests.invoice_checker.slack_support import (  # noqa: F401 (fixtures)
    ADMINS,
    BOT_TOKEN,
    PUBLIC_URL,
    slack_settings_fixture,
    slack_standin_fixture,
)

FIRST, LAST = date(2018, 1, 7), date(2018, 3, 11)


def test_notice_range_ends_on_the_previous_sunday() -> None:
    assert notice_range(date(2018, 3, 12)) == (date(2018, 1, 10), date(2018, 3, 11))  # Monday
    assert notice_range(date(2018, 3, 13))[1] == date(2018, 3, 11)  # Tuesday
    assert notice_range(date(2018, 3, 11))[1] == date(2018, 3, 4)  # a Sunday: the one before


async def test_users_and_channels_sync(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    alice = await make_user(db_session, "Alice", "Admin", email="alice@example.com")
    bob = await make_user(db_session, "Bob", "Builder", email="bob@example.com", slack_id="UOLD")
    slack_standin.workspace = SlackWorkspace(
        members=[
            {"id": "U1", "profile": {"email": "Alice@Example.com"}},
            {"id": "U2", "profile": {"email": "bob@example.com"}},
            {"id": "U3", "profile": {"email": "stranger@example.com"}},
            {"id": "U4", "profile": {}},
            {"id": "UBOT", "is_bot": True, "profile": {"bot_id": "B1"}},
        ],
        channels=[
            {"id": "C1", "name": "general", "is_archived": False},
            {"id": "C2", "name": "old-project", "is_archived": True},
            {"id": "C3", "name": "finance", "is_archived": False},
        ],
    )
    message = await sync_slack_users(db_session, slack_settings)
    assert message == "Read 5 Slack members; 2 Slack ids set"  # paged 2 by 2 by the stand-in
    await db_session.refresh(alice)
    await db_session.refresh(bob)
    assert (alice.slack_id, bob.slack_id) == ("U1", "U2")
    assert await sync_slack_users(db_session, slack_settings) == (
        "Read 5 Slack members; 0 Slack ids set"
    )
    assert await sync_slack_channels(db_session, slack_settings) == "Stored 3 Slack channels"
    slack_standin.workspace.channels[1]["name"] = "renamed"
    await sync_slack_channels(db_session, slack_settings)
    channels = (await db_session.execute(select(SlackChannel))).scalars().all()
    assert {(c.channel_id, c.name, c.archived) for c in channels} == {
        ("C1", "general", False),
        ("C2", "renamed", True),
        ("C3", "finance", False),
    }
    assert all(call.token == BOT_TOKEN for call in slack_standin.calls)


async def test_unsubmitted_notice_goes_to_the_person_and_the_admins_once(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    alice = await make_user(db_session, "Alice", "Admin", slack_id="UALICE")
    nobody = await make_user(db_session, "No", "Slack")
    project = await make_project(db_session, "Webshop", client=await make_client(db_session))
    invoice = await make_invoice(db_session, project, date(2018, 3, 1))
    await make_entry(db_session, alice, invoice, date(2018, 3, 5), 7.5, status="Unsubmitted")
    await make_entry(db_session, alice, invoice, date(2018, 3, 6), 2.0, status="Unsubmitted")
    await make_entry(db_session, alice, invoice, date(2018, 3, 7), 7.5, status="Approved")
    await make_entry(db_session, alice, invoice, date(2018, 3, 12), 1, status="Unsubmitted")
    await make_entry(db_session, nobody, invoice, date(2018, 3, 5), 3.0, status="Unsubmitted")

    message = await send_unsubmitted_notices(
        db_session, slack_settings, FIRST, LAST, today=date(2018, 3, 12)
    )
    posts = slack_standin.sent("chat.postMessage")
    to_alice = [p for p in posts if p["channel"] == "UALICE"]
    assert len(to_alice) == 1
    attachment = to_alice[0]["attachments"][0]
    assert attachment["title"] == "Unsubmitted hours in 10000ft"
    assert {f["title"]: f["value"] for f in attachment["fields"]} == {
        "Unsubmitted markings": "2",
        "Unsubmitted hours": "9.50h",
    }
    assert (
        attachment["text"]
        .splitlines()[0]
        .startswith(f"- 2018-03-05 - <{PUBLIC_URL}/projects/{project.guid}|Acme - Webshop> - ")
    )
    # "Submit your hours" opens the page with the Submit button.
    buttons = {a["text"]: a["url"] for a in attachment["actions"]}
    assert buttons["Submit your hours"] == f"{PUBLIC_URL}/you/hours/unsubmitted"
    for admin in ADMINS:
        texts = [p["text"] for p in posts if p["channel"] == admin]
        assert f"This was sent to {alice.email} in slack:" in texts
        assert f"{nobody.email} has unsubmitted hours but no Slack id:" in texts
    assert message == "Sent 5 unsubmitted-hours (2 people, 2018-01-07..2018-03-11) messages"

    again = await send_unsubmitted_notices(
        db_session, slack_settings, FIRST, LAST, today=date(2018, 3, 12)
    )
    assert again.endswith("were already sent")
    assert len(slack_standin.sent("chat.postMessage")) == 5
    await send_unsubmitted_notices(
        db_session, slack_settings, FIRST, LAST, today=date(2018, 3, 12), force=True
    )
    assert len(slack_standin.sent("chat.postMessage")) == 10


async def test_unapproved_notice_reaches_the_project_leads(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    """15.1: the original asked a flag that is always true, so it never sent anything."""
    worker = await make_user(db_session, "Walt", "Worker")
    leads = [
        await make_user(db_session, "Lena", "Lead", slack_id="ULENA"),
        await make_user(db_session, "Leo", "Lead", slack_id="ULEO"),
    ]
    client = await make_client(db_session, "Acme")
    shared = await make_project(db_session, "Shared", client=client)
    solo = await make_project(db_session, "Solo", client=client)
    orphan = await make_project(db_session, "Orphan", client=client)
    approved = await make_project(db_session, "Approved", client=client)
    for lead in leads:
        db_session.add(ProjectAdmin(project_guid=shared.guid, user_guid=lead.guid))
    db_session.add(ProjectAdmin(project_guid=solo.guid, user_guid=leads[0].guid))
    for project in (shared, solo, orphan):
        invoice = await make_invoice(db_session, project, date(2018, 3, 1))
        await make_entry(
            db_session, worker, invoice, date(2018, 3, 5), 4, status="Pending Approval"
        )
    done = await make_invoice(db_session, approved, date(2018, 3, 1))
    await make_entry(db_session, worker, done, date(2018, 3, 5), 4, status="Approved")

    message = await send_unapproved_notices(db_session, slack_settings, FIRST, LAST)

    [opened] = slack_standin.sent("conversations.open")
    assert opened["users"] == "ULENA,ULEO"
    posts = slack_standin.sent("chat.postMessage")
    titles = {
        p["channel"]: p["attachments"][0]["title"] for p in posts if p["channel"] not in ADMINS
    }
    assert titles == {
        "GENALEO": "Unapproved project hours: Acme - Shared",  # the stand-in's group id
        "ULENA": "Unapproved project hours: Acme - Solo",
    }
    fields = {f["title"]: f["value"] for f in posts[0]["attachments"][0]["fields"]}
    assert fields == {"Value": "400.00€", "Number of entries": "1", "Amount of hours": "4.00h"}
    # The team lead's nudge links to the project's page, where the pending entries are.
    to_solo = next(p for p in posts if p["channel"] == "ULENA")
    buttons = {a["text"]: a["url"] for a in to_solo["attachments"][0]["actions"]}
    assert buttons["Details in Solinor Finance"] == f"{PUBLIC_URL}/projects/{solo.guid}"
    admin_texts = [p["text"] for p in posts if p["channel"] == ADMINS[0]]
    assert (
        f"Unapproved hours in Acme - Orphan (id: {orphan.project_id}), but no admin users "
        "specified." in admin_texts
    )
    assert message.startswith("Sent 8 unapproved-hours (3 projects")


async def _person_with_flex(
    session: AsyncSession, slack_id: str | None, hours_per_day: float, **correction: float
) -> TenkfeetUser:
    user = await make_user(session, "Flex", slack_id or "Nobody", slack_id=slack_id)
    session.add(
        WorkContract(user_guid=user.guid, start_date=date(2018, 1, 1), end_date=date(2018, 12, 31))
    )
    if correction:
        session.add(FlexTimeCorrection(user_guid=user.guid, date=date(2018, 2, 20), **correction))
    project = await make_project(session)
    invoices = {m: await make_invoice(session, project, date(2018, m, 1)) for m in (1, 2)}
    day = date(2018, 1, 1)
    while day < date(2018, 3, 1):
        if day.weekday() < 5:
            await make_entry(session, user, invoices[day.month], day, hours_per_day)
        day = date.fromordinal(day.toordinal() + 1)
    return user


async def test_flex_notices_for_people_outside_the_band(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    low = await _person_with_flex(db_session, "ULOW", 5.0)  # 2.5 h short every weekday
    await _person_with_flex(db_session, "UFINE", 7.5)
    message = await send_flex_notices(db_session, slack_settings, date(2018, 3, 7))
    posts = slack_standin.sent("chat.postMessage")
    [to_low] = [p for p in posts if p["channel"] == "ULOW"]
    attachment = to_low["attachments"][0]
    assert attachment["title"] == "Flex saldo report"
    assert attachment["title_link"] == f"{PUBLIC_URL}/you/flexhours"
    assert attachment["text"] == (
        "In the long run, your flex saldo should stay between -40h and 120h. If you already "
        "have a valid plan to fix the situation, you can ignore this notification. If not, your "
        "alternatives are a) working more hours to balance this out, b) take an one-off pay cut "
        "to pay back minus hours.\n\nYou have -4.00h from KIKY hours. Doing work-related "
        "learning and marking hours for that is highly recommended.\n\nYour flex saldo "
        "changed by -54.00h during the past month. Did you remember to mark in all hours?"
    )
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    # Jan: 23 weekdays, Feb: 20 → 43 × -2.5 h, plus January and February KIKY (2 × -2 h).
    assert fields["Flex saldo at the end of last month"] == "-111.50h"
    # Against January's saldo without KIKY, as in the original: -111.5 - (-57.5).
    assert fields["Change from the month before"] == "-54.00h"
    assert not [p for p in posts if p["channel"] == "UFINE"]
    copies = [p["text"] for p in posts if p["channel"] in ADMINS]
    assert copies == [f"Following message was sent to {low.full_name}:"] * 2
    assert message.startswith("Sent 3 flex saldo (2018-02) messages")
    repeat = await send_flex_notices(db_session, slack_settings, date(2018, 3, 8))
    assert repeat == "Flex saldo notices for 2018-02 were already sent"


async def test_flex_notice_without_a_comparison_month_is_sent_not_crashed(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    """15.12: a saldo set inside last month has no month before it to compare with; the
    original raised KeyError and aborted the whole run."""
    await _person_with_flex(db_session, "UHIGH", 7.5, set_to=150)
    message = await send_flex_notices(db_session, slack_settings, date(2018, 3, 7))
    [to_high] = [p for p in slack_standin.sent("chat.postMessage") if p["channel"] == "UHIGH"]
    fields = {f["title"]: f["value"] for f in to_high["attachments"][0]["fields"]}
    assert fields["Change from the month before"] == "--"
    assert to_high["attachments"][0]["text"] == (
        "In the long run, your flex saldo should stay between -40h and 120h. If you want to, "
        "you can either take days off (agree with the customer and team) or you can convert "
        "flex saldo to salary."
    )
    assert message.startswith("Sent 3 flex saldo")


OVER = (
    "In the long run, your flex saldo should stay between -40h and 120h. If you want to, you "
    "can either take days off (agree with the customer and team) or you can convert flex saldo "
    "to salary."
)
UNDER = (
    "In the long run, your flex saldo should stay between -40h and 120h. If you already have a "
    "valid plan to fix the situation, you can ignore this notification. If not, your "
    "alternatives are a) working more hours to balance this out, b) take an one-off pay cut to "
    "pay back minus hours."
)
KIKY = (
    "\n\nYou have -3.00h from KIKY hours. Doing work-related learning and marking hours for "
    "that is highly recommended."
)


@pytest.mark.parametrize(
    ("saldo", "kiky", "change", "text"),
    [
        (121, 0, None, OVER),
        (121, 0, 10, OVER),
        (-41, -3, 0, UNDER + KIKY),
        (-41, 0, None, UNDER),
        (20, 0, 10.5, "This message is for your information - no action is needed from you."),
        (
            20,
            0,
            -10.5,
            "Your flex saldo changed by -10.50h during the past month. Did you remember to mark "
            "all your hours?",
        ),
        (20, 0, 10, ""),
        (20, 0, -10, ""),
        (20, 0, None, ""),
    ],
)
def test_flex_notice_texts_are_the_originals(
    saldo: float, kiky: float, change: float | None, text: str
) -> None:
    assert flex_notice_text(saldo, kiky, change) == text


@pytest.mark.parametrize(
    ("saldo", "kiky", "change", "paragraph"),
    [
        (130, 0, 12.25, "\n\nYour flex saldo changed by 12.25h during the past month."),
        (
            -50,
            -3,
            -20,
            "\n\nYour flex saldo changed by -20.00h during the past month. Did you remember "
            "to mark in all hours?",
        ),
    ],
)
def test_out_of_band_notices_say_how_much_the_saldo_changed(
    saldo: float, kiky: float, change: float, paragraph: str
) -> None:
    """Fixed on purpose: the original's change paragraph was keyed on a variable it never set,
    so out-of-band notices never said how much the saldo had moved."""
    text = flex_notice_text(saldo, kiky, change)
    assert text.endswith(paragraph)
    assert text.count("changed by") == 1


def test_flex_notice_shows_the_change_without_a_plus_sign() -> None:
    attachment = flex_notice_attachment("text", 125.5, -1.0, 12.5, PUBLIC_URL)
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields == {
        "Flex saldo at the end of last month": "125.50h",
        "Change from the month before": "12.50h",
        "KIKY deduction": "-1.00h",
    }
    assert attachment["title_link"] == f"{PUBLIC_URL}/you/flexhours"
    assert "+" not in str(attachment)


async def test_slack_jobs_without_a_token_say_what_to_set(
    db_session: AsyncSession, slack_settings: InvoiceCheckerSettings
) -> None:
    settings = slack_settings.model_copy(update={"slack_bot_token": SecretStr("")})
    with pytest.raises(SlackNotConfigured, match="INVOICE_CHECKER_SLACK_BOT_TOKEN"):
        await sync_slack_users(db_session, settings)
    with pytest.raises(SlackNotConfigured):
        await send_unapproved_notices(db_session, settings, FIRST, LAST)


async def test_new_projects_are_announced_once_in_the_original_words(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    settings = slack_settings.model_copy(update={"slack_new_project_channels": "CSETTING"})
    db_session.add_all(
        [
            SlackChannel(channel_id="CFLAG", name="sales", new_project_notification=True),
            SlackChannel(
                channel_id="COLD", name="old", new_project_notification=True, archived=True
            ),
            SlackChannel(channel_id="CQUIET", name="random"),
        ]
    )
    acme = await make_client(db_session, "ACME Oy")
    created = datetime(2017, 6, 1, 8, 0, tzinfo=UTC)
    await make_project(db_session, "Webshop", client=acme, project_id=1000, created_at=created)
    await make_project(db_session, "Ancient", client=acme, created_at=created - timedelta(days=30))
    now = created + timedelta(days=2)

    first = await announce_new_projects(db_session, settings, now)
    second = await announce_new_projects(db_session, settings, now)

    # The message of the sync vector (expected_new_project_slack_messages[0]).
    text = (
        "<!channel> Hi! New project was added: <https://app.10000ft.com/viewproject?id=1000|"
        "ACME Oy - Webshop> (created at 2017-06-01 08:00:00+00:00)"
    )
    posts = slack_standin.sent("chat.postMessage")
    assert [(p["channel"], p["text"]) for p in posts] == [("CFLAG", text), ("CSETTING", text)]
    assert first == "Sent 2 new-project (1 projects) messages"
    assert second == "Sent 0 new-project (0 projects) messages"


async def test_without_announcement_channels_projects_wait(
    db_session: AsyncSession,
    slack_settings: InvoiceCheckerSettings,
    slack_standin: SlackSimulator,
) -> None:
    created = datetime(2017, 6, 1, 8, 0, tzinfo=UTC)
    await make_project(db_session, "Webshop", created_at=created)
    now = created + timedelta(days=1)
    assert await announce_new_projects(db_session, slack_settings, now) == (
        "No Slack channel takes new-project announcements"
    )
    with_channel = slack_settings.model_copy(update={"slack_new_project_channels": "C1"})
    assert (await announce_new_projects(db_session, with_channel, now)).startswith(
        "Sent 1 new-project (1 projects)"
    )
