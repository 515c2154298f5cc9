"""Slack Web API calls, through slack_sdk's async client, pointed at `slack_api_url`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from invoice_checker.settings import InvoiceCheckerSettings

__all__ = ["SlackApiError", "SlackNotConfigured", "bot_client", "unfurl_client"]


class SlackNotConfigured(RuntimeError):
    """The token a Slack feature needs is not set; the message names the setting."""


def _client(settings: InvoiceCheckerSettings, token: str) -> AsyncWebClient:
    # Slack answers 429 with Retry-After when a batch posts too fast; wait and retry.
    retries = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(3)]
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout_seconds,
        retry_handlers=retries,
    )


def outbox_client(settings: InvoiceCheckerSettings) -> AsyncWebClient:
    """For posting outbox messages: one try per call. A retry after a dropped connection could
    post twice; the outbox retries instead, after looking for the message (`find_posted`)."""
    token = settings.slack_bot_token.get_secret_value()
    if not token:
        raise SlackNotConfigured("Slack is not configured: set INVOICE_CHECKER_SLACK_BOT_TOKEN")
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout_seconds,
        retry_handlers=[],
    )


def bot_client(settings: InvoiceCheckerSettings) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value()
    if not token:
        raise SlackNotConfigured("Slack is not configured: set INVOICE_CHECKER_SLACK_BOT_TOKEN")
    return _client(settings, token)


def unfurl_client(settings: InvoiceCheckerSettings) -> AsyncWebClient:
    """chat.unfurl takes the workspace token in the original; fall back to the bot's."""
    token = settings.slack_workspace_token.get_secret_value()
    return _client(settings, token) if token else bot_client(settings)


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def admin_recipients(settings: InvoiceCheckerSettings) -> list[str]:
    """Slack ids (people or channels) that get copies of notices and admin alerts."""
    return _ids(settings.slack_notifications_admin)


def new_project_recipients(settings: InvoiceCheckerSettings) -> list[str]:
    """Channels named in the settings for new-project announcements."""
    return _ids(settings.slack_new_project_channels)


async def _paged(client: AsyncWebClient, method: str, key: str, **args: Any) -> list[Any]:
    items: list[Any] = []
    cursor = ""
    while True:
        response = await client.api_call(
            method, http_verb="GET", params={**args, "limit": 200, "cursor": cursor}
        )
        items.extend(response.get(key) or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return items


async def list_members(client: AsyncWebClient) -> list[dict[str, Any]]:
    return await _paged(client, "users.list", "members")


async def list_channels(client: AsyncWebClient) -> list[dict[str, Any]]:
    return await _paged(
        client, "conversations.list", "channels", types="public_channel,private_channel"
    )


# Outbox messages carry their row id in Slack message metadata, so a retry can find them.
OUTBOX_EVENT = "finance_bot_outbox_message"


async def post_message(
    client: AsyncWebClient,
    channel: str,
    *,
    text: str,
    attachments: Sequence[dict[str, Any]] | None = None,
    outbox_id: int | None = None,
) -> str:
    """Post; the message's ts."""
    metadata = (
        None
        if outbox_id is None
        else {"event_type": OUTBOX_EVENT, "event_payload": {"outbox_id": outbox_id}}
    )
    response = await client.chat_postMessage(
        channel=channel,
        text=text,
        attachments=list(attachments or []),
        username="finance-bot",
        metadata=metadata,
    )
    return str(response.get("ts") or "")


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`channel_not_found`), or the HTTP status when the body was not JSON."""
    data = exc.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {exc.response.status_code}"


def is_transient(exc: SlackApiError) -> bool:
    """Slack busy or down (429, 5xx): try again later. Anything else is a refusal."""
    status = exc.response.status_code
    return status == 429 or status >= 500 or slack_error(exc) == "ratelimited"


async def conversation_of(client: AsyncWebClient, channel: str, open_with: Sequence[str]) -> str:
    """Where a message to `channel` (or to a group of people) lands: a person's direct
    conversation for a person id, the channel itself otherwise."""
    if open_with:
        return await open_conversation(client, open_with)
    if channel[:1] in ("U", "W"):
        return await open_conversation(client, [channel])
    return channel


async def find_posted(
    client: AsyncWebClient, conversation: str, outbox_id: int, oldest: float
) -> str | None:
    """The ts of the outbox message in the conversation since `oldest`, if Slack has it."""
    history = await _paged(
        client,
        "conversations.history",
        "messages",
        channel=conversation,
        oldest=f"{oldest:.6f}",
        include_all_metadata="true",
    )
    for message in history:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == OUTBOX_EVENT and payload.get("outbox_id") == outbox_id:
            return str(message.get("ts") or "")
    return None


async def open_conversation(client: AsyncWebClient, user_ids: Sequence[str]) -> str:
    """The id of the direct or group conversation with these people (Slack reuses it)."""
    response = await client.conversations_open(users=",".join(user_ids))
    return str(response["channel"]["id"])


async def unfurl(
    client: AsyncWebClient, channel: str, ts: str, unfurls: dict[str, dict[str, Any]]
) -> None:
    await client.chat_unfurl(channel=channel, ts=ts, unfurls=unfurls)
