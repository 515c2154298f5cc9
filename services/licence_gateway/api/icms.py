"""The routes ICMS calls, with the original service's paths and answer shapes (not problem+json).

Licence bodies are parsed by hand, after Hawk has checked the raw bytes (see
`hawk_route.hawk_protected`). Answers are rendered like the original's (Python `json.dumps`,
default separators).
The Hawk routes are answered by `api.icms_direct`, with the `answer_*` functions here, before
FastAPI routes a request; the routes registered here document them (OpenAPI) and answer the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from licence_gateway.api.deps import SettingsDep
from licence_gateway.api.hawk_route import HawkRoute
from licence_gateway.api.icms_schemas import (
    LICENCE_EXAMPLES,
    Detail,
    LicenceEnvelope,
    ValidationErrors,
)
from licence_gateway.domain.licence_validation import validate_licence
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.store import health
from licence_gateway.store.payloads import (
    DATABASE_UNREACHABLE,
    Ingest,
    NewPayload,
    store_payload,
)
from service_kit.request_session import SessionDep
from service_kit.state import RedisDep

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
UPDATE_LICENCE_PATH = "/mail/update-licence/"
CHECK_CONNECTION_PATH = "/mail/check-icms-hmrc-connection/"


class BadBody(Exception):
    """The body is not one this route can take; `body` is the 400 answer's JSON."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.body = body


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _licence_errors(errors: dict[str, Any]) -> dict[str, Any]:
    return {"errors": [{"licence": errors}]}


def _parse(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadBody({"detail": f"JSON parse error - {exc}"}) from None


def _licence_of(raw: bytes) -> dict[str, Any]:
    body = _parse(raw)
    if not isinstance(body, dict) or "licence" not in body:
        raise BadBody({"errors": [{"licence": "This field is required."}]})
    licence = body["licence"]
    if not isinstance(licence, dict):
        kind = type(licence).__name__
        raise BadBody(
            _licence_errors({"non_field_errors": [f"Expected an object, but got {kind}."]})
        )
    # PostgreSQL cannot store U+0000 in JSONB; no field of a licence may hold it anyway. (This also
    # refuses a literal backslash followed by "u0000", which validation refuses in any case.)
    if b"\\u0000" in raw:
        raise BadBody(
            _licence_errors({"non_field_errors": ["Text must not contain the NUL character."]})
        )
    return licence


def _new_payload(licence: dict[str, Any]) -> NewPayload:
    """The row for a licence that passed validation.

    Validation has checked these keys; the guard only keeps a hole in it from becoming a 500.
    """
    try:
        payload = NewPayload(
            icms_id=uuid.UUID(str(licence["id"])),
            action=str(licence["action"]),
            reference=str(licence["reference"]),
            licence_type=str(licence["type"]),
            data=licence,
        )
    except (KeyError, ValueError) as exc:
        raise BadBody(_licence_errors({"non_field_errors": [f"Unusable licence: {exc}"]})) from None
    if not payload.fits_its_columns():
        raise BadBody(_licence_errors({"non_field_errors": ["Unusable licence: field too long"]}))
    return payload


async def update_licence(request: Request, session: SessionDep) -> Response:
    """Store one licence instruction for the next licenceData file to CHIEF.

    The licence is kept exactly as received and echoed back. Posting the same `id` and `action`
    again with an identical licence answers 201 and stores nothing; with a different licence, 409.
    """
    return await answer_update_licence(await request.body(), partial(store_payload, session))


StorePayload = Callable[[NewPayload], Awaitable[Ingest]]
"""Where a licence that passed validation is stored (`store_payload` on some connection)."""


async def answer_update_licence(raw: bytes, store: StorePayload) -> Response:
    """`update_licence`'s answer to the body `raw`, storing the licence with `store`."""
    try:
        licence = _licence_of(raw)
        errors = validate_licence(licence)
        if errors:
            raise BadBody(_licence_errors(errors))
        payload = _new_payload(licence)
    except BadBody as exc:
        return _json(exc.body, 400)
    try:
        outcome = await store(payload)
    except DATABASE_UNREACHABLE as exc:
        # ICMS retries; the repeat is harmless (idempotent) if the row did get committed.
        logger.error("licence not stored: database unreachable", extra={"error": repr(exc)})
        return _json({"detail": "The licence store is unavailable; try again later."}, 503)
    if outcome is Ingest.CONFLICT:
        message = (
            f"A licence with id {payload.icms_id} and action '{payload.action}' was already"
            " received with different content; send a new id for a new instruction."
        )
        return _json(_licence_errors({"id": [message]}), 409)
    return _json({"licence": licence}, 201)


async def check_connection(request: Request) -> Response:
    """ICMS's connectivity test: `{"foo": "bar"}` answers `{"bar": "foo"}`."""
    return answer_check_connection(await request.body())


def answer_check_connection(raw: bytes) -> Response:
    """`check_connection`'s answer to the body `raw`."""
    try:
        data = _parse(raw)
    except BadBody as exc:
        return _json(exc.body, 400)
    if data != {"foo": "bar"}:
        return _json({"errors": f"Invalid request data: {data!r}"}, 400)
    return _json({"bar": "foo"}, 200)


def icms_router() -> APIRouter:
    """The Hawk-protected routes ICMS posts to."""
    router = APIRouter(tags=["icms"], route_class=HawkRoute)
    # The envelope is registered in components by response_model; the body shares it.
    body_schema = {"$ref": "#/components/schemas/LicenceEnvelope"}
    router.add_api_route(
        UPDATE_LICENCE_PATH,
        update_licence,
        methods=["POST"],
        status_code=201,
        summary="Receive a licence instruction from ICMS (Hawk)",
        response_model=LicenceEnvelope,
        responses={
            400: {"model": ValidationErrors | Detail, "description": "Not JSON, or not valid"},
            401: {"model": Detail, "description": "Hawk failed (WWW-Authenticate: Hawk)"},
            409: {"model": ValidationErrors, "description": "Same id and action, other licence"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": body_schema, "examples": LICENCE_EXAMPLES}
                },
            }
        },
    )
    router.add_api_route(
        CHECK_CONNECTION_PATH,
        check_connection,
        methods=["POST"],
        summary="Connectivity test for ICMS (Hawk)",
        responses={
            200: {"content": {"application/json": {"example": {"bar": "foo"}}}},
            400: {"description": 'Any body but {"foo": "bar"}'},
            401: {"model": Detail, "description": "Hawk failed (WWW-Authenticate: Hawk)"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"example": {"foo": "bar"}}},
            }
        },
    )
    return router


# --- Pingdom health checks ------------------------------------------------------------------

PINGDOM_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<pingdom_http_custom_check>\n"
    "    <status>{status}</status>\n"
    "    <response_time>{seconds:.3f}</response_time>\n"
    "</pingdom_http_custom_check>\n"
)

Check = Callable[[], Awaitable[bool]]


async def _passes(check: Check) -> bool:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure of a check is a red check, never a 500
        logger.warning("health check error", extra={"error": f"{type(exc).__name__}: {exc}"})
        return False


async def _database_checks(
    session: AsyncSession, settings: LicenceGatewaySettings, with_backlog: bool
) -> dict[str, bool]:
    async def database() -> bool:
        await health.database_answers(session)
        return True

    results = {"check_database": await _passes(database)}
    if not with_backlog:
        return results
    if not results["check_database"]:
        # Not measurable without the database; do not wait for it twice more.
        return results | {
            "check_unprocessed_payloads": False,
            "check_pending_mail": False,
            "check_icms_refused_licences": False,
        }
    now = datetime.now(UTC)
    payload_cutoff = now - timedelta(seconds=settings.health_payload_max_age_seconds)
    reply_cutoff = now - timedelta(seconds=settings.health_reply_max_wait_seconds)

    async def payloads() -> bool:
        return not await health.payload_waiting_since(session, payload_cutoff)

    async def mails() -> bool:
        return not await health.mail_awaiting_reply_since(session, reply_cutoff)

    async def nothing_parked() -> bool:
        # A licence ICMS refused waits for someone to fix it in ICMS and run `redeliver`.
        return await health.parked_licences(session) == 0

    results["check_unprocessed_payloads"] = await _passes(payloads)
    results["check_pending_mail"] = await _passes(mails)
    results["check_icms_refused_licences"] = await _passes(nothing_parked)
    return results


async def _redis_check(redis: Redis) -> dict[str, bool]:
    async def write() -> bool:
        # A real round trip to the Redis every replica shares (the original wrote to a
        # per-process memory cache and so never noticed Redis was down).
        return bool(await redis.set("licence_gateway:healthcheck", b"1", ex=1))

    return {"check_redis": await _passes(write)}


async def _pingdom(
    session: AsyncSession, settings: LicenceGatewaySettings, redis: Redis, with_backlog: bool
) -> Response:
    started = time.perf_counter()
    database, redis_results = await asyncio.gather(
        _database_checks(session, settings, with_backlog), _redis_check(redis)
    )
    results = {**database, **redis_results}
    failed = [name for name, ok in results.items() if not ok]
    text = PINGDOM_XML.format(
        status="FALSE" if failed else "OK", seconds=time.perf_counter() - started
    )
    text += "".join(f"<!--The following check failed: {name}-->\n" for name in failed)
    return Response(text, status_code=503 if failed else 200, media_type="text/xml")


def pingdom_router() -> APIRouter:
    """Pingdom's custom-check XML: 200 OK or 503 FALSE naming each failed check."""
    router = APIRouter(tags=["health"])
    xml = {"content": {"text/xml": {"example": PINGDOM_XML.format(status="OK", seconds=0.012)}}}

    @router.get(
        "/healthcheck/",
        summary="Full check: database, Redis, payload backlog, mails awaiting a reply",
        response_class=Response,
        responses={200: xml, 503: {"description": "FALSE, one comment per failed check"}},
    )
    async def healthcheck(session: SessionDep, settings: SettingsDep, redis: RedisDep) -> Response:
        return await _pingdom(session, settings, redis, with_backlog=True)

    @router.get(
        "/pingdom/ping.xml",
        summary="Database and Redis",
        response_class=Response,
        responses={200: xml, 503: {"description": "FALSE, one comment per failed check"}},
    )
    async def ping(session: SessionDep, settings: SettingsDep, redis: RedisDep) -> Response:
        return await _pingdom(session, settings, redis, with_backlog=False)

    return router
