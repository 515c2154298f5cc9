"""Slack calls us: the `/flex-hours` slash command and the Events API (URL check, link unfurls).

Both are public URLs, so every request must carry Slack's signature over its raw body, made
with the signing secret in the last five minutes; anything else is 401. Answers are never 500:
a person whose saldo cannot be computed gets a reply saying so (15.16).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.adapters.slack import SlackApiError, SlackNotConfigured, unfurl, unfurl_client
from invoice_checker.api.flex import Today
from invoice_checker.domain import slack_messages as messages
from invoice_checker.domain.flex import FlexError, calculate_flex_saldo, is_active
from invoice_checker.domain.slack_signing import SignatureError, verify
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.flex import load_flex_inputs
from invoice_checker.store.slack import invoice_card, person_by_slack_id, project_card
from service_kit.db import SessionDep
from service_kit.errors import Problem

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/slack", tags=["slack"])
# Old links to the original's pages, kept working: they lead to the API's answers.
links_router = APIRouter(include_in_schema=False)


def _settings(request: Request) -> InvoiceCheckerSettings:
    settings: InvoiceCheckerSettings = request.app.state.settings
    return settings


async def signed_body(request: Request) -> bytes:
    """The raw body, once Slack's signature over it has been checked."""
    secret = _settings(request).slack_signing_secret.get_secret_value()
    if not secret:
        raise Problem(
            503,
            "Slack is not configured: set INVOICE_CHECKER_SLACK_SIGNING_SECRET.",
            type_="urn:problem:slack-not-configured",
        )
    body = await request.body()
    try:
        verify(
            secret,
            timestamp=request.headers.get("x-slack-request-timestamp"),
            signature=request.headers.get("x-slack-signature"),
            body=body,
            now=time.time(),
        )
    except SignatureError as exc:
        raise Problem(401, str(exc), type_="urn:problem:slack-signature") from exc
    return body


SignedBody = Annotated[bytes, Depends(signed_body)]


async def _flex_summary(
    session: AsyncSession, user: TenkfeetUser, today: date
) -> messages.FlexSummary | str:
    """The person's flex summary, or why there is none (in words for Slack)."""
    inputs = await load_flex_inputs(session, user, today=today)
    if not is_active(inputs):
        return f"Flex saldo is not enabled for {user.full_name}."
    try:
        result = calculate_flex_saldo(inputs)
    except FlexError as exc:
        return f"The flex saldo of {user.full_name} cannot be computed: {exc}"
    return messages.flex_summary(str(user.guid), user.full_name, result)


@router.post(
    "/flex-hours",
    summary="The /flex-hours slash command",
    responses={401: {"description": "Missing, wrong or stale Slack signature"}},
)
async def flex_hours_command(
    request: Request, body: SignedBody, session: SessionDep, today: Today
) -> dict[str, Any]:
    """Slack posts the command form-encoded; the reply is only shown to the person."""
    form = parse_qs(body.decode("utf-8", "replace"))
    user_id = (form.get("user_id") or [""])[0]
    if not user_id:
        raise Problem(400, "The command has no user_id.", type_="urn:problem:slack-request")
    user = await person_by_slack_id(session, user_id)
    if user is None:
        return messages.ephemeral("Sorry, unable to fetch your flex saldo - user ID not found.")
    if user.archived:
        return messages.ephemeral("You have been archived from 10000ft.")
    inputs = await load_flex_inputs(session, user, today=today)
    if not is_active(inputs):
        return messages.ephemeral("It seems you don't have flex saldo activated right now.")
    try:
        result = calculate_flex_saldo(inputs)
    except FlexError as exc:
        return messages.ephemeral(
            f"Sorry, your flex saldo cannot be computed: {exc} "
            "Please ask an admin to check your work contracts."
        )
    summary = messages.flex_summary(str(user.guid), user.full_name, result)
    settings = _settings(request)
    return messages.ephemeral(
        messages.flex_headline(summary), [messages.flex_attachment(summary, settings.public_url)]
    )


@router.post(
    "/events",
    summary="Slack Events API: URL verification and link unfurls",
    response_model=None,
    responses={
        200: {"content": {"text/plain": {}}, "description": "`ok`, or the challenge"},
        400: {"description": "Neither a challenge nor an event"},
        401: {"description": "Missing, wrong or stale Slack signature"},
    },
)
async def slack_event(
    request: Request,
    body: SignedBody,
    session: SessionDep,
    today: Today,
    background: BackgroundTasks,
) -> Response:
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise Problem(400, "The body is not a JSON object.", type_="urn:problem:slack-request")
    if payload.get("type") == "url_verification":
        return PlainTextResponse(str(payload.get("challenge", "")))
    event = payload.get("event")
    if not isinstance(event, dict):
        raise Problem(
            400, "The body has neither a challenge nor an event.", type_="urn:problem:slack-request"
        )
    if event.get("type") == "link_shared":
        settings = _settings(request)
        unfurls = await _unfurls(settings, session, event, today)
        channel, ts = event.get("channel"), event.get("message_ts")
        if unfurls and isinstance(channel, str) and isinstance(ts, str):
            # Slack wants its answer within 3 s: acknowledge first, call chat.unfurl after.
            background.add_task(_send_unfurls, settings, channel, ts, unfurls)
    return PlainTextResponse("ok")


async def _unfurls(
    settings: InvoiceCheckerSettings, session: AsyncSession, event: dict[str, Any], today: date
) -> dict[str, dict[str, Any]]:
    unfurls: dict[str, dict[str, Any]] = {}
    for link in event.get("links") or []:
        url = link.get("url") if isinstance(link, dict) else None
        if isinstance(url, str):
            attachment = await _unfurl_for(session, url, settings.public_url, today)
            if attachment is not None:
                unfurls[url] = attachment
    return unfurls


async def _send_unfurls(
    settings: InvoiceCheckerSettings, channel: str, ts: str, unfurls: dict[str, dict[str, Any]]
) -> None:
    try:
        await unfurl(unfurl_client(settings), channel, ts, unfurls)
    except (SlackApiError, SlackNotConfigured) as exc:
        # Slack retries events it got no 200 for; a failed unfurl is logged, not retried.
        logger.warning("chat.unfurl failed", extra={"error": str(exc)})


async def _unfurl_for(
    session: AsyncSession, url: str, public_url: str, today: date
) -> dict[str, Any] | None:
    path = urlsplit(url).path
    if match := messages.USER_FLEX_PATH.match(path):
        user = await session.get(TenkfeetUser, uuid.UUID(match["guid"]))
        if user is None:
            return messages.not_found_unfurl("User does not exist")
        summary = await _flex_summary(session, user, today)
        if isinstance(summary, str):
            return {"text": summary}
        return messages.flex_unfurl(summary, public_url)
    if match := messages.INVOICE_PATH.match(path):
        invoice = await invoice_card(session, uuid.UUID(match["id"]))
        if invoice is None:
            return messages.not_found_unfurl("this invoice does not exist")
        return messages.invoice_unfurl(invoice, url)
    if match := messages.PROJECT_PATH.match(path):
        project = await project_card(session, uuid.UUID(match["guid"]))
        if project is None:
            return messages.not_found_unfurl("project does not exist")
        return messages.project_unfurl(project, url, public_url)
    return None


@links_router.get("/users/{user_guid}/flexhours")
async def old_flex_link(user_guid: uuid.UUID) -> RedirectResponse:
    return RedirectResponse(f"/api/v1/users/{user_guid}/flex", status_code=307)
