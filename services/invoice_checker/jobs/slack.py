"""Slack jobs: users and channels sync, and the weekly unsubmitted / unapproved hour notices."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.adapters.slack import (
    SlackApiError,
    admin_recipients,
    bot_client,
    conversation_of,
    find_posted,
    is_transient,
    list_channels,
    list_members,
    new_project_recipients,
    open_conversation,
    outbox_client,
    post_message,
    slack_error,
)
from invoice_checker.domain.slack_messages import (
    escape,
    new_project_text,
    unapproved_attachment,
    unsubmitted_attachment,
)
from invoice_checker.jobs.runtime import job_session, local_today, stepwise_session
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.events import record_event
from invoice_checker.store.slack import (
    NEW_PROJECTS,
    UNAPPROVED,
    UNSUBMITTED,
    claim_bundle,
    claim_new_projects,
    claimed_bundle,
    link_slack_ids,
    new_project_channels,
    unapproved_projects,
    unsubmitted_by_person,
    upsert_channels,
)
from invoice_checker.store.slack_outbox import (
    BatchProgress,
    LeasedMessage,
    PlannedMessage,
    add_messages,
    batch_progress,
    bundles_with_unsent,
    lease,
    mark_sent,
    release,
    unsent_ids,
)

logger = logging.getLogger(__name__)
# How far back the weekly notices look, ending on the previous Sunday.
NOTICE_DAYS = 60
# Projects created in 10000ft this recently are announced (older ones were there before us).
NEW_PROJECT_WINDOW = timedelta(days=7)
# An unconfirmed post is looked for in the messages since its row was written, less this much
# (clock differences between us and Slack).
HISTORY_MARGIN_SECONDS = 300


def notice_range(today: date) -> tuple[date, date]:
    """The previous Sunday and the 60 days before it."""
    last = today - timedelta(days=today.isoweekday() % 7 or 7)
    return last - timedelta(days=NOTICE_DAYS), last


class NoticeBatch:
    """The messages of one notice batch, planned in full before any is sent."""

    def __init__(self, settings: InvoiceCheckerSettings) -> None:
        self.admins = admin_recipients(settings)
        self.messages: list[PlannedMessage] = []

    def post(
        self,
        channel: str,
        text: str,
        attachments: Sequence[dict[str, Any]] = (),
        *,
        open_with: Sequence[str] = (),
    ) -> None:
        self.messages.append(PlannedMessage(channel, text, list(attachments), list(open_with)))

    def to_admins(
        self, text: str, attachments: Sequence[dict[str, Any]] = (), *, skip: Sequence[str] = ()
    ) -> None:
        for admin in self.admins:
            if admin not in skip:
                self.post(admin, text, attachments)


Plan = Callable[[NoticeBatch], Awaitable[str]]  # fills the batch; says what it holds


@dataclass(frozen=True)
class BatchResult:
    what: str
    progress: BatchProgress

    def summary(self) -> str:
        failed, pending = self.progress.failed, self.progress.pending
        failures = f"; {len(failed)} failed ({', '.join(failed)})" if failed else ""
        waiting = f"; {pending} waiting to be retried" if pending else ""
        return f"Sent {self.progress.sent} {self.what} messages{failures}{waiting}"

    @property
    def complete(self) -> bool:
        return not (self.progress.failed or self.progress.pending)


async def send_batch_once(
    session: AsyncSession,
    settings: InvoiceCheckerSettings,
    kind: str,
    period: str,
    plan: Plan,
    *,
    force: bool = False,
) -> BatchResult | None:
    """Plan the batch of this kind and period and send it; None if it was claimed before (its
    unsent messages, if any, are sent now). The claim and every message are committed before
    the first is sent, so a run that dies part-way leaves the rest to `resend_slack_outbox`
    and never messages anyone twice. The session commits in steps: no transaction of the
    caller's may be open."""
    client = outbox_client(settings)
    bundle_id = await claim_bundle(session, kind, period, force=force)
    if bundle_id is None:
        claimed = await claimed_bundle(session, kind, period)
        await session.commit()
        if claimed is not None:
            await send_outbox(session, client, settings, claimed)
        return None
    batch = NoticeBatch(settings)
    what = await plan(batch)
    await add_messages(session, bundle_id, batch.messages)
    await session.commit()
    return BatchResult(what, await send_outbox(session, client, settings, bundle_id))


def forced(result: BatchResult | None) -> BatchResult:
    """The result of a forced batch, which no earlier claim can have taken."""
    if result is None:
        raise RuntimeError("a forced Slack batch found its claim taken")
    return result


async def send_outbox(
    session: AsyncSession, client: AsyncWebClient, settings: InvoiceCheckerSettings, bundle_id: int
) -> BatchProgress:
    """Send the batch's unsent messages, each in its own short transactions."""
    waiting = await unsent_ids(session, bundle_id)
    await session.commit()
    for message_id in waiting:
        await send_message(session, client, settings, message_id)
    progress = await batch_progress(session, bundle_id)
    await session.commit()
    return progress


async def send_message(
    session: AsyncSession, client: AsyncWebClient, settings: InvoiceCheckerSettings, message_id: int
) -> None:
    """Lease (committed), post, mark sent (committed). A message an earlier attempt may have
    posted (a timeout, a dropped connection, a killed worker) is first looked for in Slack."""
    leased = await lease(session, message_id, settings.slack_outbox_lease_seconds)
    await session.commit()
    if leased is None:
        return  # sent, given up, or another sender holds it
    try:
        ts = await _post_once(client, leased)
    except SlackApiError as exc:
        error = slack_error(exc)
        logger.warning("slack post failed", extra={"outbox_message": message_id, "error": error})
        await release(session, message_id, error, give_up=not is_transient(exc))
    except Exception as exc:  # a timeout or a cut connection: the post may have got through
        logger.warning(
            "slack post unconfirmed", extra={"outbox_message": message_id, "error": repr(exc)}
        )
        await release(session, message_id, f"{type(exc).__name__}: {exc}")
    else:
        await mark_sent(session, message_id, ts)
    await session.commit()


async def _post_once(client: AsyncWebClient, message: LeasedMessage) -> str:
    conversation = None
    if message.earlier_attempts:
        conversation = await conversation_of(client, message.channel, message.open_with)
        oldest = message.created_at.timestamp() - HISTORY_MARGIN_SECONDS
        found = await find_posted(client, conversation, message.id, oldest)
        if found is not None:
            return found
    channel = message.channel
    if message.open_with:
        channel = conversation or await open_conversation(client, message.open_with)
    return await post_message(
        client, channel, text=message.text, attachments=message.attachments, outbox_id=message.id
    )


async def resend_slack_outbox(ctx: dict[str, Any]) -> str:
    """Scheduled every minute: send what a failed or killed notice run left unsent."""
    async with stepwise_session(ctx) as (session, settings):
        bundles = await bundles_with_unsent(session)
        await session.commit()
        if not bundles:
            return "Nothing waiting in the Slack outbox"
        client = outbox_client(settings)
        sent = 0
        for bundle_id in bundles:
            sent += (await send_outbox(session, client, settings, bundle_id)).sent
        return f"Resumed {len(bundles)} Slack batches ({sent} messages sent in all)"


async def sync_slack_users(session: AsyncSession, settings: InvoiceCheckerSettings) -> str:
    members = await list_members(bot_client(settings))
    linked = await link_slack_ids(session, members)
    message = f"Read {len(members)} Slack members; {linked} Slack ids set"
    await record_event(session, "sync_slack_users", message)
    return message


async def sync_slack_channels(session: AsyncSession, settings: InvoiceCheckerSettings) -> str:
    channels = await list_channels(bot_client(settings))
    stored = await upsert_channels(session, channels)
    message = f"Stored {stored} Slack channels"
    await record_event(session, "sync_slack_channels", message)
    return message


def unsubmitted_plan(
    session: AsyncSession, settings: InvoiceCheckerSettings, first: date, last: date, *, today: date
) -> Plan:
    """The unsubmitted-hours batch of [first, last]: each person, copied to the admins (planned
    only: the notice job sends it, the notices page previews it)."""
    period = f"{first}..{last}"

    async def plan(batch: NoticeBatch) -> str:
        people = await unsubmitted_by_person(session, first, last)
        for person, entries in people:
            attachment = unsubmitted_attachment(
                str(person.guid), entries, today, settings.public_url
            )
            if person.slack_id:
                batch.post(person.slack_id, "You have unsubmitted hours", [attachment])
                batch.to_admins(f"This was sent to {escape(person.email)} in slack:", [attachment])
            else:
                batch.to_admins(
                    f"{escape(person.email)} has unsubmitted hours but no Slack id:", [attachment]
                )
        return f"unsubmitted-hours ({len(people)} people, {period})"

    return plan


def unapproved_plan(
    session: AsyncSession, settings: InvoiceCheckerSettings, first: date, last: date
) -> Plan:
    """The unapproved-hours batch of [first, last]: each project's leads, copied to the admins."""
    period = f"{first}..{last}"

    async def plan(batch: NoticeBatch) -> str:
        projects = await unapproved_projects(session, first, last)
        for project, leads in projects:
            attachment = unapproved_attachment(project, settings.public_url)
            if not leads:
                batch.to_admins(
                    f"Unapproved hours in {escape(project.client)} - "
                    f"{escape(project.name)} "
                    f"(id: {project.project_id}), but no admin users specified.",
                    [attachment],
                )
                continue
            # One lead gets a direct message; several share a group conversation.
            text = "Your project has unapproved hours"
            if len(leads) == 1:
                batch.post(leads[0], text, [attachment])
            else:
                batch.post("", text, [attachment], open_with=leads)
            batch.to_admins(
                f"This was sent to the leads of {escape(project.client)} - {escape(project.name)}:",
                [attachment],
                skip=leads,
            )
        return f"unapproved-hours ({len(projects)} projects, {period})"

    return plan


async def send_unsubmitted_notices(
    session: AsyncSession,
    settings: InvoiceCheckerSettings,
    first: date,
    last: date,
    *,
    today: date,
    force: bool = False,
) -> str:
    """Tell each person with unsubmitted hours in [first, last], copying the admins."""
    period = f"{first}..{last}"

    plan = unsubmitted_plan(session, settings, first, last, today=today)
    result = await send_batch_once(session, settings, UNSUBMITTED, period, plan, force=force)
    if result is None:
        return f"Unsubmitted-hours notices for {period} were already sent"
    message = result.summary()
    await record_event(
        session, "send_unsubmitted_hours_notifications", message, succeeded=result.complete
    )
    await session.commit()
    return message


async def send_unapproved_notices(
    session: AsyncSession,
    settings: InvoiceCheckerSettings,
    first: date,
    last: date,
    *,
    force: bool = False,
) -> str:
    """Tell each project's leads about its entries still waiting for approval."""
    period = f"{first}..{last}"

    plan = unapproved_plan(session, settings, first, last)
    result = await send_batch_once(session, settings, UNAPPROVED, period, plan, force=force)
    if result is None:
        return f"Unapproved-hours notices for {period} were already sent"
    message = result.summary()
    await record_event(
        session, "send_unapproved_hours_notifications", message, succeeded=result.complete
    )
    await session.commit()
    return message


async def announce_new_projects(
    session: AsyncSession, settings: InvoiceCheckerSettings, now: datetime
) -> str:
    """Tell the new-project channels about projects created in 10000ft lately, each once."""
    channels = sorted(
        set(new_project_recipients(settings)) | set(await new_project_channels(session))
    )
    if not channels:
        return "No Slack channel takes new-project announcements"

    async def plan(batch: NoticeBatch) -> str:
        projects = await claim_new_projects(session, now - NEW_PROJECT_WINDOW)
        for project in projects:
            for channel in channels:
                batch.post(channel, new_project_text(project))
        return f"new-project ({len(projects)} projects)"

    # Every run is a batch of its own; the announcements it claims are its messages.
    result = await send_batch_once(
        session, settings, NEW_PROJECTS, now.isoformat(timespec="seconds"), plan, force=True
    )
    message = forced(result).summary()
    await record_event(session, "send_new_project_notifications", message)
    await session.commit()
    return message


async def slack_sync_job(ctx: dict[str, Any]) -> list[str]:
    """Scheduled: Slack users (Slack ids by e-mail), then channels."""
    async with job_session(ctx) as (session, settings):
        users = await sync_slack_users(session, settings)
    async with job_session(ctx) as (session, settings):
        channels = await sync_slack_channels(session, settings)
    return [users, channels]


async def unsubmitted_notice_job(ctx: dict[str, Any], force: bool = False) -> str:
    today = local_today(ctx)
    first, last = notice_range(today)
    async with stepwise_session(ctx) as (session, settings):
        return await send_unsubmitted_notices(
            session, settings, first, last, today=today, force=force
        )


async def new_project_notice_job(ctx: dict[str, Any]) -> str:
    async with stepwise_session(ctx) as (session, settings):
        return await announce_new_projects(session, settings, datetime.now(UTC))


async def unapproved_notice_job(ctx: dict[str, Any], force: bool = False) -> str:
    first, last = notice_range(local_today(ctx))
    async with stepwise_session(ctx) as (session, settings):
        return await send_unapproved_notices(session, settings, first, last, force=force)
