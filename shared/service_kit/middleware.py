"""One pure-ASGI middleware for request ids, access logs, metrics and the body size limit."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.logging import request_id_var

logger = logging.getLogger("service_kit.access")


class HttpMetrics:
    """Prometheus metrics of one app, in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # The labelled children, looked up once: `labels()` checks and locks on every call.
        self._answered: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request: counted by method, route and status, timed by method and route."""
        answered = self._answered.get((method, route, status))
        if answered is None:
            answered = self._answered[method, route, status] = self.requests.labels(
                method, route, str(status)
            )
        answered.inc()
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[method, route] = self.latency.labels(method, route)
        timed.observe(seconds)


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        start = time.perf_counter()
        status = 500
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _too_large(send, self.max_body_bytes, request_id)
            request_id_var.reset(token)
            return
        if _has_nul(scope):
            detail = "The URL contains a NUL character."
            await _problem(send, 400, "Bad Request", detail, request_id)
            request_id_var.reset(token)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                too_large = too_large or received > self.max_body_bytes
            if too_large:
                raise BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if too_large:
                return  # frameworks turn a failed body read into 400; the answer is our 413
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            try:
                await self.app(scope, limited_receive, send_with_id)
            except Exception:
                if not too_large:  # whatever the app made of BodyTooLarge, it is answered below
                    raise
            if too_large:
                status = 413
                await _too_large(send, self.max_body_bytes, request_id)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_template(scope)
            self.metrics.record(scope["method"], route, status, elapsed)
            if status >= 500:
                logger.warning(
                    "request failed",
                    extra={"method": scope["method"], "path": scope["path"], "status": status},
                )
            elif logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _has_nul(scope: Scope) -> bool:
    """PostgreSQL text cannot hold NUL: refused here rather than failing a query later."""
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


async def _too_large(send: Send, limit: int, request_id: str) -> None:
    detail = f"The request body is larger than {limit} bytes."
    await _problem(send, 413, "Content Too Large", detail, request_id)


async def _problem(send: Send, status: int, title: str, detail: str, request_id: str) -> None:
    """A problem+json answer sent before the app runs (no framework to render it)."""
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
