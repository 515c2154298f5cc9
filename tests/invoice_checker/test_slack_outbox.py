"""Slack notices go out exactly once (issue 16): the batch's claim and every message are committed
first, each message is then posted and marked in its own transaction. Timeouts, 5xx, dropped
connections, a sender killed mid-post and a second worker neither lose a message nor send one
twice. On the old code (the posts inside the claiming transaction) a timeout or a cut connection
rolled the claim back, so the retry messaged again everyone who had already got theirs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from invoice_checker.jobs.slack import resend_slack_outbox, send_unsubmitted_notices
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.slack import SlackWorkspace
from invoice_checker.store.slack_outbox import SlackOutboxMessage
from tests.invoice_checker.directory_factories import (
    make_client,
    make_entry,
    make_invoice,
    make_project,
    make_user,
)
from tests.invoice_checker.job_context import job_ctx
from tests.invoice_checker.slack_support import (  # noqa: F401 (fixtures)
    ADMINS,
    BOT_TOKEN,
    POST_FAULTS,
    WORKSPACE_TOKEN,
    FaultySlack,
    slack_settings_fixture,
)
from tests.invoice_checker.sync_support import truncate_sync_tables

FIRST, LAST = date(2018, 1, 7), date(2018, 3, 11)
TODAY = date(2018, 3, 12)
LEASE = 1.5  # seconds; the client's time limit is 1 s


@pytest_asyncio.fixture(name="slack_standin")
async def faulty_standin_fixture() -> AsyncIterator[FaultySlack]:
    simulator = FaultySlack(SlackWorkspace(), tokens=[BOT_TOKEN, WORKSPACE_TOKEN])
    await simulator.start()
    yield simulator
    simulator.release_hanging.set()
    await simulator.stop()


@pytest.fixture(name="settings")
def short_limits(slack_settings: InvoiceCheckerSettings) -> InvoiceCheckerSettings:
    return slack_settings.model_copy(
        update={"slack_timeout_seconds": 1, "slack_outbox_lease_seconds": LEASE}
    )


async def three_people(session: AsyncSession) -> None:
    """Three people with unsubmitted hours: 3 direct messages + 6 admin copies."""
    project = await make_project(session, "Webshop", client=await make_client(session))
    invoice = await make_invoice(session, project, date(2018, 3, 1))
    for index in range(3):
        person = await make_user(session, "Person", f"No{index}", slack_id=f"UP{index:03d}")
        await make_entry(
            session, person, invoice, date(2018, 3, 5), 1 + index, status="Unsubmitted"
        )


def assert_each_once(standin: FaultySlack, messages: int) -> None:
    delivered = standin.delivered()
    assert sorted(delivered.values()) == [1] * messages, delivered


@pytest.mark.parametrize("fault", POST_FAULTS[:-1])
async def test_a_failed_or_unconfirmed_post_is_retried_once_and_never_sent_twice(
    db_session: AsyncSession,
    settings: InvoiceCheckerSettings,
    slack_standin: FaultySlack,
    fault: str,
) -> None:
    await three_people(db_session)
    slack_standin.faults = {4: fault}  # the second person's direct message

    first = await send_unsubmitted_notices(db_session, settings, FIRST, LAST, today=TODAY)

    assert first.startswith("Sent 8 unsubmitted-hours (3 people")
    assert first.endswith("; 1 waiting to be retried")
    await asyncio.sleep(LEASE)  # the unconfirmed message is free again
    ctx = job_ctx(db_session, settings)
    assert await resend_slack_outbox(ctx) == "Resumed 1 Slack batches (9 messages sent in all)"
    assert await resend_slack_outbox(ctx) == "Nothing waiting in the Slack outbox"
    assert_each_once(slack_standin, 9)
    again = await send_unsubmitted_notices(db_session, settings, FIRST, LAST, today=TODAY)
    assert again.endswith("were already sent")
    assert_each_once(slack_standin, 9)


async def test_a_sender_killed_after_slack_took_the_message_does_not_send_it_again(
    db_session: AsyncSession, settings: InvoiceCheckerSettings, slack_standin: FaultySlack
) -> None:
    await three_people(db_session)
    slack_standin.faults = {2: "hang-after"}
    sender = asyncio.create_task(
        send_unsubmitted_notices(db_session, settings, FIRST, LAST, today=TODAY)
    )
    await slack_standin.posted_hanging.wait()
    sender.cancel()  # the worker dies here: Slack has the message, we never heard back
    with contextlib.suppress(asyncio.CancelledError):
        await sender
    await db_session.rollback()

    ctx = job_ctx(db_session, settings)
    # The lease of the interrupted message still holds: nothing is sent twice meanwhile.
    assert (await resend_slack_outbox(ctx)).startswith("Resumed 1 Slack batches")
    assert len(slack_standin.history) >= 1
    await asyncio.sleep(LEASE)
    await resend_slack_outbox(ctx)
    assert_each_once(slack_standin, 9)
    rows = (await db_session.execute(select(SlackOutboxMessage))).scalars().all()
    assert [(row.sent_at is not None, row.attempts) for row in rows] == [(True, 1)] * 8 + [
        (True, 2)
    ]


async def test_a_refused_recipient_is_given_up_and_the_others_get_theirs(
    db_session: AsyncSession, settings: InvoiceCheckerSettings, slack_standin: FaultySlack
) -> None:
    # Not an id Slack knows: it answers channel_not_found.
    person = await make_user(db_session, "Gone", "Person", slack_id="XGONE")
    project = await make_project(db_session, "Webshop", client=await make_client(db_session))
    invoice = await make_invoice(db_session, project, date(2018, 3, 1))
    await make_entry(db_session, person, invoice, date(2018, 3, 5), 2, status="Unsubmitted")

    message = await send_unsubmitted_notices(db_session, settings, FIRST, LAST, today=TODAY)

    assert message.endswith("; 1 failed (XGONE: channel_not_found)")
    assert message.startswith("Sent 2 unsubmitted-hours")
    ctx = job_ctx(db_session, settings)
    assert await resend_slack_outbox(ctx) == "Nothing waiting in the Slack outbox"


@pytest_asyncio.fixture(name="committing")
async def committing_sessions(
    engine: AsyncEngine,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Real commits: two workers need to see each other's claims and leases."""

    async def clean() -> None:
        await truncate_sync_tables(engine)
        async with engine.begin() as connection:
            await connection.execute(
                text("TRUNCATE invoice_checker.slack_notification_bundles CASCADE")
            )

    await clean()
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await clean()


async def test_two_workers_at_once_send_each_message_once(
    committing: async_sessionmaker[AsyncSession],
    settings: InvoiceCheckerSettings,
    slack_standin: FaultySlack,
) -> None:
    async with committing() as session:
        await three_people(session)
        await session.commit()
    slack_standin.faults = {3: "timeout-after", 6: "drop-after"}

    async def worker() -> str:
        async with committing() as session:
            return await send_unsubmitted_notices(session, settings, FIRST, LAST, today=TODAY)

    results = await asyncio.gather(worker(), worker(), worker())
    assert sum(r.endswith("were already sent") for r in results) == 2
    await asyncio.sleep(LEASE)
    await asyncio.gather(worker(), worker())  # both resume the unconfirmed messages at once
    assert_each_once(slack_standin, 9)
