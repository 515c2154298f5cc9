"""Slack jobs: users and channels sync, and the weekly unsubmitted / unapproved hour notices."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.adapters.slack import (
    SlackApiError,
    admin_recipients,
    bot_client,
    list_channels,
    list_members,
    new_project_recipients,
    open_conversation,
    post_message,
)
from invoice_checker.domain.slack_messages import (
    escape,
    new_project_text,
    unapproved_attachment,
    unsubmitted_attachment,
)
from invoice_checker.jobs.runtime import job_session, local_today
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.events import record_event
from invoice_checker.store.slack import (
    UNAPPROVED,
    UNSUBMITTED,
    claim_bundle,
    claim_new_projects,
    link_slack_ids,
    new_project_channels,
    record_bundle_size,
    unapproved_projects,
    unsubmitted_by_person,
    upsert_channels,
)

logger = logging.getLogger(__name__)
# How far back the weekly notices look, ending on the previous Sunday.
NOTICE_DAYS = 60
# Projects created in 10000ft this recently are announced (older ones were there before us).
NEW_PROJECT_WINDOW = timedelta(days=7)


def notice_range(today: date) -> tuple[date, date]:
    """The previous Sunday and the 60 days before it."""
    last = today - timedelta(days=today.isoweekday() % 7 or 7)
    return last - timedelta(days=NOTICE_DAYS), last


class Outbox:
    """Posts messages, counting what went out; one bad recipient never stops a batch."""

    def __init__(self, client: AsyncWebClient, settings: InvoiceCheckerSettings) -> None:
        self.client = client
        self.admins = admin_recipients(settings)
        self.sent = 0
        self.failed: list[str] = []

    async def post(
        self, channel: str, text: str, attachments: Sequence[dict[str, Any]] = ()
    ) -> None:
        try:
            await post_message(self.client, channel, text=text, attachments=attachments)
        except SlackApiError as exc:
            logger.warning("slack post failed", extra={"channel": channel, "error": str(exc)})
            self.failed.append(f"{channel}: {exc.response.get('error', exc)}")
            return
        self.sent += 1

    async def to_admins(
        self, text: str, attachments: Sequence[dict[str, Any]] = (), *, skip: Sequence[str] = ()
    ) -> None:
        for admin in self.admins:
            if admin not in skip:
                await self.post(admin, text, attachments)

    def summary(self, what: str) -> str:
        failures = f"; {len(self.failed)} failed ({', '.join(self.failed)})" if self.failed else ""
        return f"Sent {self.sent} {what} messages{failures}"


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
    if not force and not await claim_bundle(session, UNSUBMITTED, period):
        return f"Unsubmitted-hours notices for {period} were already sent"
    outbox = Outbox(bot_client(settings), settings)
    people = await unsubmitted_by_person(session, first, last)
    for person, entries in people:
        attachment = unsubmitted_attachment(str(person.guid), entries, today, settings.public_url)
        if person.slack_id:
            await outbox.post(person.slack_id, "You have unsubmitted hours", [attachment])
            await outbox.to_admins(
                f"This was sent to {escape(person.email)} in slack:", [attachment]
            )
        else:
            await outbox.to_admins(
                f"{escape(person.email)} has unsubmitted hours but no Slack id:", [attachment]
            )
    message = outbox.summary(f"unsubmitted-hours ({len(people)} people, {period})")
    await record_bundle_size(session, UNSUBMITTED, period, outbox.sent)
    await record_event(
        session, "send_unsubmitted_hours_notifications", message, succeeded=not outbox.failed
    )
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
    if not force and not await claim_bundle(session, UNAPPROVED, period):
        return f"Unapproved-hours notices for {period} were already sent"
    client = bot_client(settings)
    outbox = Outbox(client, settings)
    projects = await unapproved_projects(session, first, last)
    for project, leads in projects:
        attachment = unapproved_attachment(project, settings.public_url)
        if not leads:
            await outbox.to_admins(
                f"Unapproved hours in {escape(project.client)} - "
                f"{escape(project.name)} "
                f"(id: {project.project_id}), but no admin users specified.",
                [attachment],
            )
            continue
        try:
            # One lead gets a direct message; several share a group conversation.
            channel = leads[0] if len(leads) == 1 else await open_conversation(client, leads)
        except SlackApiError as exc:
            outbox.failed.append(f"{','.join(leads)}: {exc.response.get('error', exc)}")
            continue
        await outbox.post(channel, "Your project has unapproved hours", [attachment])
        await outbox.to_admins(
            f"This was sent to the leads of {escape(project.client)} - {escape(project.name)}:",
            [attachment],
            skip=leads,
        )
    message = outbox.summary(f"unapproved-hours ({len(projects)} projects, {period})")
    await record_bundle_size(session, UNAPPROVED, period, outbox.sent)
    await record_event(
        session, "send_unapproved_hours_notifications", message, succeeded=not outbox.failed
    )
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
    outbox = Outbox(bot_client(settings), settings)
    projects = await claim_new_projects(session, now - NEW_PROJECT_WINDOW)
    for project in projects:
        for channel in channels:
            await outbox.post(channel, new_project_text(project))
    message = outbox.summary(f"new-project ({len(projects)} projects)")
    await record_event(session, "send_new_project_notifications", message)
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
    async with job_session(ctx) as (session, settings):
        return await send_unsubmitted_notices(
            session, settings, first, last, today=today, force=force
        )


async def new_project_notice_job(ctx: dict[str, Any]) -> str:
    async with job_session(ctx) as (session, settings):
        return await announce_new_projects(session, settings, datetime.now(UTC))


async def unapproved_notice_job(ctx: dict[str, Any], force: bool = False) -> str:
    first, last = notice_range(local_today(ctx))
    async with job_session(ctx) as (session, settings):
        return await send_unapproved_notices(session, settings, first, last, force=force)
