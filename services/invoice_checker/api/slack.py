"""Slack calls us: the `/flex-hours` slash command and the Events API (URL check, link unfurls).

Both are public URLs, so every request must carry Slack's signature over its raw body, made
with the signing secret in the last five minutes, and not seen before (each signature is kept in
Redis for that window); anything else is 401. Answers are never 500: a person whose saldo cannot
be computed gets a reply saying so (15.16). A link unfurls only to what the person who shared it
may see (domain/scopes.py), else to a neutral "sign in to view".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.adapters.slack import SlackApiError, unfurl, unfurl_client
from invoice_checker.api.deps import app_settings
from invoice_checker.api.flex import Today
from invoice_checker.api.permissions import sensitive_leave_types
from invoice_checker.domain import slack_messages as messages
from invoice_checker.domain.flex import FlexError, calculate_flex_saldo, is_active
from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.domain.scopes import Scope
from invoice_checker.domain.slack_signing import MAX_AGE_SECONDS, SignatureError, verify
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.flex import load_flex_inputs
from invoice_checker.store.scopes import invoice_in_scope, principal_for_slack_id, project_in_scope
from invoice_checker.store.slack import invoice_card, person_by_slack_id, project_card
from service_kit.errors import Problem, not_configured
from service_kit.request_session import SessionDep
from service_kit.settings import NotConfiguredError, require_settings
from service_kit.state import get_redis

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/slack", tags=["slack"])
# Old links to the original's pages, kept working: they lead to the API's answers.


def _settings(request: Request) -> InvoiceCheckerSettings:
    return app_settings(request)


async def signed_body(request: Request) -> bytes:
    """The raw body, once Slack's signature over it has been checked."""
    settings = _settings(request)
    try:
        require_settings(settings, "Slack", "slack_signing_secret")
    except NotConfiguredError as exc:
        raise not_configured(exc, "urn:problem:slack-not-configured") from exc
    secret = settings.slack_signing_secret.get_secret_value()
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
    if not await _first_sight(request, request.headers["x-slack-signature"]):
        raise Problem(
            401, "This signed request was seen before.", type_="urn:problem:slack-signature"
        )
    return body


async def _first_sight(request: Request, signature: str) -> bool:
    """Remember the signature while its timestamp passes (5 minutes either way); False if
    it was seen already."""
    key = f"invoice_checker:slack-signature:{signature}"
    try:
        stored = await get_redis(request).set(key, b"1", nx=True, ex=2 * MAX_AGE_SECONDS)
    except RedisError as exc:
        raise Problem(
            503, "Cannot check Slack requests for replays now.", type_="urn:problem:unavailable"
        ) from exc
    return bool(stored)


SignedBody = Annotated[bytes, Depends(signed_body)]


async def _flex_summary(
    session: AsyncSession, user: TenkfeetUser, today: date
) -> messages.FlexSummary | str:
    """The person's flex summary, or why there is none (in words for Slack)."""
    inputs = await load_flex_inputs(session, user, today=today)
    if not is_active(inputs):
        return f"Flex saldo is not enabled for {messages.escape(user.full_name)}."
    try:
        result = calculate_flex_saldo(inputs)
    except FlexError as exc:
        return f"The flex saldo of {messages.escape(user.full_name)} cannot be computed: {exc}"
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
        sharer = event.get("user")
        principal = (
            await principal_for_slack_id(session, sharer) if isinstance(sharer, str) else None
        )
        viewer = (
            None
            if principal is None
            else (principal, Scope.of(principal, sensitive_leave_types(_settings(request))))
        )
        unfurls = await _unfurls(settings, session, event, today, viewer)
        channel, ts = event.get("channel"), event.get("message_ts")
        if unfurls and isinstance(channel, str) and isinstance(ts, str):
            # Slack wants its answer within 3 s: acknowledge first, call chat.unfurl after.
            background.add_task(_send_unfurls, settings, channel, ts, unfurls)
    return PlainTextResponse("ok")


Viewer = tuple[Principal, Scope] | None  # who shared the link; None: nobody we know


async def _unfurls(
    settings: InvoiceCheckerSettings,
    session: AsyncSession,
    event: dict[str, Any],
    today: date,
    viewer: Viewer,
) -> dict[str, dict[str, Any]]:
    unfurls: dict[str, dict[str, Any]] = {}
    for link in event.get("links") or []:
        url = link.get("url") if isinstance(link, dict) else None
        if isinstance(url, str):
            attachment = await _unfurl_for(session, url, settings.public_url, today, viewer)
            if attachment is not None:
                unfurls[url] = attachment
    return unfurls


async def _send_unfurls(
    settings: InvoiceCheckerSettings, channel: str, ts: str, unfurls: dict[str, dict[str, Any]]
) -> None:
    try:
        await unfurl(unfurl_client(settings), channel, ts, unfurls)
    except (SlackApiError, NotConfiguredError) as exc:
        # Slack retries events it got no 200 for; a failed unfurl is logged, not retried.
        logger.warning("chat.unfurl failed", extra={"error": str(exc)})


async def _unfurl_for(
    session: AsyncSession, url: str, public_url: str, today: date, viewer: Viewer
) -> dict[str, Any] | None:
    """The unfurl of one of our links as the sharer may see it (the API's rules), else a
    neutral "sign in to view"; None for links that are not ours to unfurl."""
    path = urlsplit(url).path
    flex, invoice, project = (
        pattern.match(path)
        for pattern in (messages.USER_FLEX_PATH, messages.INVOICE_PATH, messages.PROJECT_PATH)
    )
    if not (flex or invoice or project):
        return None
    if viewer is None:
        return messages.sign_in_unfurl(url)
    principal, scope = viewer
    if flex:
        user = await session.get(TenkfeetUser, uuid.UUID(flex["guid"]))
        if user is None:
            return messages.not_found_unfurl("User does not exist")
        if not (scope.is_own(user.email) or principal.can(Permission.SEE_FLEX_SALDOS)):
            return messages.sign_in_unfurl(url)
        summary = await _flex_summary(session, user, today)
        if isinstance(summary, str):
            return {"text": summary}
        return messages.flex_unfurl(summary, public_url)
    # An invoice or a project: its card for those who reach it (as the API decides).
    key: uuid.UUID
    reached: Callable[[AsyncSession, Scope, uuid.UUID], Awaitable[object | None]]
    if invoice:
        key, what = uuid.UUID(invoice["id"]), "this invoice does not exist"
        card: Any = await invoice_card(session, key)
        reached = invoice_in_scope
    else:
        assert project is not None  # nosec B101 # one of the three matched
        key, what = uuid.UUID(project["guid"]), "project does not exist"
        card = await project_card(session, key)
        reached = project_in_scope
    if card is None:
        return messages.not_found_unfurl(what)
    if not principal.can(Permission.VIEW_INVOICES) or not await reached(session, scope, key):
        return messages.sign_in_unfurl(url)
    if invoice:
        return messages.invoice_unfurl(card, url)
    return messages.project_unfurl(card, url, public_url)
