"""The server's side of Hawk on the ICMS API: checks each request, remembers its nonce in Redis,
signs every answer (the protocol itself is `domain.hawk`). `hawk_protected` does it for the
direct endpoints of `api.icms_direct` and for the route class `HawkRoute` alike.

The URL a request is checked against is rebuilt from what reached us: the scheme of the ASGI
scope (uvicorn takes it from X-Forwarded-Proto when the proxy is in --forwarded-allow-ips), the
Host header exactly as sent (its port, else 80/443 by scheme), and the raw path and query. A proxy
in front must therefore pass Host through unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
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

logger = logging.getLogger(__name__)


class NonceStore:
    """Hawk nonces in Redis (shared by every replica), over one connection this process keeps.

    Through redis-py's connection a SET cost several times the round trip itself (its lock, a
    task for the write's timeout, a stream reader, a timeout for the read). Here each SET is
    written straight to the connection's transport and its reply is matched in order (Redis
    answers a connection's commands in the order they came): the requests a process has in
    flight share the connection without waiting for each other's round trip. redis-py still
    opens the connection (same URL, database, credentials, TLS and timeouts as the client's
    pool) before it is taken over. A reply later than the client's socket timeout, a reply
    that SET … NX cannot give, or the connection closing drops the connection and fails every
    SET still waiting on it; the next call connects again. Errors are raised, never taken for a
    first use: without the store, replays cannot be told apart.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._connection: _NonceConnection | None = None
        self._connecting = asyncio.Lock()

    async def first_use(self, key: str) -> bool:
        """Remember `key` for NONCE_TTL_SECONDS; False when it was already remembered."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connect()
        return await connection.set_once(
            _resp_command(b"SET", key.encode(), b"1", b"NX", b"EX", _NONCE_TTL)
        )

    async def _connect(self) -> _NonceConnection:
        async with self._connecting:  # one connection, whoever else is waiting for it
            if self._connection is None or self._connection.closed:
                self._connection = await _NonceConnection.open(self._redis)
            return self._connection

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close()


class _NonceConnection(asyncio.Protocol):
    """One Redis connection answering SET … NX commands in order (see `NonceStore`)."""

    def __init__(self, writer: asyncio.StreamWriter, timeout: float | None) -> None:
        self._writer = writer  # kept: a StreamWriter closes its transport when it is dropped
        self._transport = writer.transport
        self._timeout = timeout
        self._waiting: deque[asyncio.Future[bool]] = deque()
        self._unread = b""
        self.closed = False

    @classmethod
    async def open(cls, redis: Redis) -> _NonceConnection:
        """A connection as the client's pool makes them, its replies read here from then on."""
        opened = redis.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        await opened.connect()
        # Hand the transport over: redis-py's connection forgets it (and so no longer closes it
        # when it is dropped). Its stream reader holds nothing: every handshake reply was read.
        writer: asyncio.StreamWriter = opened._writer
        opened._reader = opened._writer = None
        connection = cls(writer, opened.socket_timeout)
        writer.transport.set_protocol(connection)
        return connection

    async def set_once(self, command: bytes) -> bool:
        """Send a SET … NX; True when Redis set the key, False when it was already there."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(reply)
        self._transport.write(command)
        if self._timeout is None:
            return await reply
        late = loop.call_later(self._timeout, self._time_out, reply)
        try:
            return await reply
        finally:
            late.cancel()

    def data_received(self, data: bytes) -> None:
        self._unread += data
        while (end := self._unread.find(b"\r\n")) >= 0:
            line, self._unread = self._unread[:end], self._unread[end + 2 :]
            if not self._waiting:
                self._fail(InvalidResponse(f"unexpected reply from Redis: {line[:80]!r}"))
                return
            self._answer(self._waiting.popleft(), line)

    def _answer(self, reply: asyncio.Future[bool], line: bytes) -> None:
        # SET … NX answers OK, a null (RESP2 `$-1`, RESP3 `_`) when the key exists, or an error.
        if line == b"+OK":
            outcome: bool | RedisError = True
        elif line in (b"$-1", b"_"):
            outcome = False
        elif line.startswith(b"-"):
            outcome = ResponseError(line[1:].decode(errors="replace"))
        else:
            self._waiting.appendleft(reply)
            self._fail(InvalidResponse(f"unexpected reply from Redis: {line[:80]!r}"))
            return
        if reply.done():  # its caller gave up (cancelled): the reply was still its own
            return
        if isinstance(outcome, RedisError):
            reply.set_exception(outcome)
        else:
            reply.set_result(outcome)

    def _time_out(self, reply: asyncio.Future[bool]) -> None:
        if not reply.done():
            self._fail(RedisTimeoutError("Timeout reading from Redis"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def _fail(self, error: RedisError) -> None:
        """Drop the connection: the replies still due can no longer be told apart."""
        self.close()
        while self._waiting:
            reply = self._waiting.popleft()
            if not reply.done():
                reply.set_exception(error)

    def close(self) -> None:
        self.closed = True
        self._transport.close()


_NONCE_TTL = str(NONCE_TTL_SECONDS).encode()


def _resp_command(*arguments: bytes) -> bytes:
    """A command as Redis reads it (RESP): an array of bulk strings."""
    parts = [b"*%d\r\n" % len(arguments)]
    parts += [b"$%d\r\n%s\r\n" % (len(argument), argument) for argument in arguments]
    return b"".join(parts)


async def first_use_of_nonce(nonces: NonceStore, request: HawkRequest) -> bool:
    """Remember the nonce; False when it was already there (a replay).

    The ts is part of the key: a replay must repeat it (the MAC covers it), and it keeps the
    short random nonces of unrelated requests from colliding.
    """
    return await nonces.first_use(f"hawk:{request.credentials.id}:{request.ts}:{request.nonce}")


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
    request: Incoming, settings: LicenceGatewaySettings, nonces: NonceStore
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
    nonces: NonceStore,
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


def hawk_nonces(app: FastAPI) -> NonceStore:
    """The app's nonce store (made when it starts, see `main.create_app`)."""
    nonces = getattr(app.state, "hawk_nonces", None)
    if not isinstance(nonces, NonceStore):
        raise RuntimeError("the app's lifespan has not started")
    return nonces


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
