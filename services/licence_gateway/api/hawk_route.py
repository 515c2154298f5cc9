"""The server's side of Hawk on the ICMS API: checks each request, remembers its nonce in Redis,
signs every answer (the protocol itself is `domain.hawk`). `hawk_protected` does it for the
direct endpoints of `api.icms_direct` and for the route class `HawkRoute` alike.

The URL a request is checked against is rebuilt from what reached us: the scheme of the ASGI
scope (uvicorn takes it from X-Forwarded-Proto when the proxy is in --forwarded-allow-ips), the
Host header exactly as sent (its port, else 80/443 by scheme), and the raw path and query. A proxy
in front must therefore pass Host through unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from redis.exceptions import InvalidResponse, RedisError
from starlette.responses import Response
from starlette.types import Scope

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
from service_kit.kept_redis import KeptRedis
from service_kit.state import app_lifespan_state

logger = logging.getLogger(__name__)


_NONCE_TTL = str(NONCE_TTL_SECONDS).encode()


async def first_use_of_nonce(nonces: KeptRedis, request: HawkRequest) -> bool:
    """Remember the nonce in Redis (shared by every replica) for NONCE_TTL_SECONDS; False when
    it was already there (a replay). Errors are raised, never taken for a first use: without
    the store, replays cannot be told apart.

    The ts is part of the key: a replay must repeat it (the MAC covers it), and it keeps the
    short random nonces of unrelated requests from colliding.
    """
    key = f"hawk:{request.credentials.id}:{request.ts}:{request.nonce}".encode()
    reply = await nonces.call(b"SET", key, b"1", b"NX", b"EX", _NONCE_TTL)
    if reply is not None and reply != b"OK":  # SET … NX answers OK, or a null when it was set
        raise InvalidResponse(f"SET NX answered {reply!r}")
    return reply is not None


@dataclass(frozen=True)
class Incoming:
    """What Hawk checks of a request: its method, the URL its sender signed, its Hawk header
    (empty when it has none), content type and body; the path is for logs."""

    method: str
    url: str
    path: str
    header: str
    content_type: str
    body: bytes


_REQUEST_HEADER_NAMES = tuple(name.encode() for name in REQUEST_HEADERS)
_HEADERS_READ = frozenset({b"host", b"content-type", *_REQUEST_HEADER_NAMES})


def incoming(scope: Scope, body: bytes) -> Incoming:
    """A request's Hawk-checked parts, read from its ASGI scope (headers as Starlette reads
    them: the first of a repeated name)."""
    headers: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _HEADERS_READ and name not in headers:
            headers[name] = value.decode("latin-1")
    header = next((headers[n] for n in _REQUEST_HEADER_NAMES if n in headers), "")
    return Incoming(
        method=scope["method"],
        url=signed_url(scope, headers.get(b"host")),
        path=scope["path"],
        header=header,
        content_type=headers.get(b"content-type", ""),
        body=body,
    )


def signed_url(scope: Scope, host: str | None) -> str:
    """The absolute URL the sender signed: scope scheme, Host header as sent, raw path and query."""
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
    request: Incoming, settings: LicenceGatewaySettings, nonces: KeptRedis
) -> HawkRequest | Response:
    """The verified request, or the answer refusing it (signed when its MAC was good)."""
    credentials = Credentials(
        settings.icms_hawk_id, settings.icms_hawk_key.get_secret_value().encode()
    )
    try:
        verified = verify_request(
            request.header,
            credentials=credentials,
            method=request.method,
            url=request.url,
            body=request.body,
            content_type=request.content_type,
        )
    except HawkError as exc:
        logger.info("Hawk refused", extra={"reason": str(exc), "path": request.path})
        return _unauthorized()
    try:
        first_use = await first_use_of_nonce(nonces, verified)
    except (RedisError, OSError) as exc:
        # Without the nonce store a replay cannot be told apart: refuse, ICMS will retry.
        logger.error("Hawk nonce store unreachable", extra={"error": str(exc)})
        unavailable = _answer(
            503, "Replay protection unavailable; try again later", {"Retry-After": "5"}
        )
        return _signed(unavailable, verified)
    if not first_use:
        logger.info("Hawk refused", extra={"reason": "replayed nonce", "path": request.path})
        return _signed(_unauthorized(), verified)
    return verified


async def hawk_protected(
    request: Incoming,
    settings: LicenceGatewaySettings,
    nonces: KeptRedis,
    endpoint: Callable[[], Awaitable[Response]],
) -> Response:
    """The endpoint's answer, signed, if the request passes Hawk; else the refusal.

    With Hawk disabled, the endpoint answers every request and nothing is signed.
    """
    if settings.hawk_disabled:
        return await endpoint()
    verified = await _authenticate(request, settings, nonces)
    if isinstance(verified, Response):
        return verified
    return _signed(await endpoint(), verified)


def hawk_nonces(app: FastAPI) -> KeptRedis:
    """Where the app keeps the nonces: its process's kept Redis connection."""
    return app_lifespan_state(app).kept_redis


class HawkRoute(APIRoute):
    """A route that answers only Hawk-signed requests and signs every answer it gives.

    Hawk is checked on the raw body before the endpoint runs (so before anything parses it);
    the endpoint reads the same bytes with `await request.body()`. (The ICMS routes are answered
    by `api.icms_direct` before FastAPI routes a request; this class documents them and answers
    the same way.)
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await hawk_protected(
                incoming(request.scope, await request.body()),
                app_settings(request),
                hawk_nonces(request.app),
                lambda: endpoint(request),
            )

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
