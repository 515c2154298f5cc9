"""The Hawk-protected route class of the ICMS API: checks each request, remembers its nonce in
Redis, signs every answer (the protocol itself is `domain.hawk`).

The URL a request is checked against is rebuilt from what reached us: the scheme of the ASGI
scope (uvicorn takes it from X-Forwarded-Proto when the proxy is in --forwarded-allow-ips), the
Host header exactly as sent (its port, else 80/443 by scheme), and the raw path and query. A proxy
in front must therefore pass Host through unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import Response

from licence_gateway.api.deps import app_settings
from licence_gateway.domain.hawk import (
    NONCE_TTL_SECONDS,
    REQUEST_HEADERS,
    Credentials,
    HawkError,
    HawkRequest,
    server_authorization,
    verify_request,
)
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.state import get_redis

logger = logging.getLogger(__name__)


async def first_use_of_nonce(redis: Redis, request: HawkRequest) -> bool:
    """Remember the nonce in Redis (shared by every replica); False when it was already there.

    The ts is part of the key: a replay must repeat it (the MAC covers it), and it keeps the
    short random nonces of unrelated requests from colliding.
    """
    key = f"hawk:{request.credentials.id}:{request.ts}:{request.nonce}"
    return bool(await redis.set(key, b"1", nx=True, ex=NONCE_TTL_SECONDS))


def request_url(request: Request) -> str:
    """The absolute URL the sender signed: scope scheme, Host header as sent, raw path and query."""
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server_host, server_port = scope.get("server") or ("", None)
        host = f"{server_host}:{server_port}" if server_port else server_host
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = raw_path + b"?" + query if query else raw_path
    return f"{scope['scheme']}://{host}{target.decode('latin-1')}"


def _answer(status: int, detail: str, headers: dict[str, str]) -> Response:
    # Compact JSON, as DRF rendered the original's authentication failures.
    body = orjson.dumps({"detail": detail})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _unauthorized() -> Response:
    return _answer(401, "Failed HAWK authentication", {"WWW-Authenticate": "Hawk"})


def _signed(response: Response, request: HawkRequest) -> Response:
    content_type = response.headers.get("content-type", "")
    response.headers["Server-Authorization"] = server_authorization(
        request, bytes(response.body), content_type
    )
    return response


async def _authenticate(
    request: Request, settings: LicenceGatewaySettings
) -> HawkRequest | Response:
    """The verified request, or the answer refusing it (signed when its MAC was good)."""
    header = next((request.headers[n] for n in REQUEST_HEADERS if n in request.headers), "")
    credentials = Credentials(
        settings.icms_hawk_id, settings.icms_hawk_key.get_secret_value().encode()
    )
    try:
        verified = verify_request(
            header,
            credentials=credentials,
            method=request.method,
            url=request_url(request),
            body=await request.body(),
            content_type=request.headers.get("content-type", ""),
        )
    except HawkError as exc:
        logger.info("Hawk refused", extra={"reason": str(exc), "path": request.url.path})
        return _unauthorized()
    try:
        first_use = await first_use_of_nonce(get_redis(request), verified)
    except (RedisError, OSError) as exc:
        # Without the nonce store a replay cannot be told apart: refuse, ICMS will retry.
        logger.error("Hawk nonce store unreachable", extra={"error": str(exc)})
        unavailable = _answer(
            503, "Replay protection unavailable; try again later", {"Retry-After": "5"}
        )
        return _signed(unavailable, verified)
    if not first_use:
        logger.info("Hawk refused", extra={"reason": "replayed nonce", "path": request.url.path})
        return _signed(_unauthorized(), verified)
    return verified


class HawkRoute(APIRoute):
    """A route that answers only Hawk-signed requests and signs every answer it gives.

    Hawk is checked on the raw body before the endpoint runs (so before anything parses it);
    the endpoint reads the same bytes with `await request.body()`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()

        async def handler(request: Request) -> Response:
            settings = app_settings(request)
            if settings.hawk_disabled:
                return await endpoint(request)
            verified = await _authenticate(request, settings)
            if isinstance(verified, Response):
                return verified
            return _signed(await endpoint(request), verified)

        return handler


def warn_if_disabled(settings: LicenceGatewaySettings) -> None:
    """Called at start: running without Hawk must never go unnoticed."""
    if settings.hawk_disabled:
        logger.warning(
            "Hawk authentication is OFF (LICENCE_GATEWAY_HAWK_DISABLED=true):"
            " the ICMS API accepts unsigned requests"
        )
    elif not settings.icms_hawk_key.get_secret_value():
        logger.error(
            "LICENCE_GATEWAY_ICMS_HAWK_KEY is not set: every ICMS request will be refused (401)"
        )
