"""The app factory both services share: lifespan-owned engine and Redis, errors, health, metrics."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry
from starlette._utils import get_route_path
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service_kit.db import (
    KeptConnections,
    create_engine,
    create_read_sessionmaker,
    create_sessionmaker,
)
from service_kit.error_reporting import start_error_reporting
from service_kit.errors import install_problem_handlers
from service_kit.health import health_router, postgres_check, redis_check
from service_kit.kept_redis import KeptRedis
from service_kit.logging import configure_logging
from service_kit.middleware import HttpMetrics, RequestContextMiddleware
from service_kit.queue import create_redis
from service_kit.settings import ServiceSettings
from service_kit.state import LifespanState, set_lifespan_state

ExtraLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Not Found"},
        "status": {"type": "integer", "example": 404},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {}},
    },
    "additionalProperties": True,
}


def _problem_content() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI what the handlers do: validation errors and every undocumented status
    answer problem+json (routes that document their own error shapes keep them)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            validation = responses.get("422")
            if validation and "HTTPValidationError" in str(validation.get("content")):
                validation["content"] = _problem_content()
            default = {"description": "An error, as RFC 9457 problem details"}
            responses.setdefault("default", {**default, "content": _problem_content()})
    return schema


DirectAnswer = Callable[[Scope, bytes], Awaitable[Response]]
"""A direct route's endpoint: the answer to a request, from its scope and its whole body."""

DirectTakes = Callable[[Scope], bool]
"""Which requests a direct route answers, from their scope; FastAPI's route answers the rest."""


@dataclass(frozen=True)
class _DirectRoute:
    methods: frozenset[str]
    documented: APIRoute  # the registered route of the same path (OpenAPI, metrics label)
    answer: DirectAnswer
    takes: DirectTakes | None


class ServiceApp(FastAPI):
    """FastAPI, plus direct routes: endpoints answered before FastAPI's middleware and router.

    For a hot route whose work is small next to the framework's. A direct route still runs inside
    the app's user middleware (a second instance of each: request id, body limit, metrics, logs)
    and answers errors with the app's exception handlers, arranged as Starlette arranges them
    (ServerErrorMiddleware outermost, the other handlers innermost). It skips what lies between:
    FastAPI's telemetry and body-limit layers, the router, dependency injection (an endpoint that
    must honour a dependency override looks it up itself, as `request_session.route_connection`
    does). It stands in for a registered route, which documents it, names it in metrics, and
    answers the methods the direct route does not take.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._direct_routes: dict[str, _DirectRoute] = {}
        self._direct_stacks: dict[str, ASGIApp] | None = None

    def add_direct_route(
        self,
        documented: APIRoute,
        answer: DirectAnswer,
        *,
        methods: Collection[str],
        takes: DirectTakes | None = None,
    ) -> None:
        """Answer `methods` on the path of `documented` (a route of a router included without a
        prefix) with the response `answer` gives; with `takes`, only the requests it takes (the
        others go to `documented`, as without a direct route: a direct route can then leave
        what it does not read itself, such as invalid input, to FastAPI's validation)."""
        route = _DirectRoute(frozenset(methods), documented, answer, takes)
        self._direct_routes[documented.path] = route
        self._direct_stacks = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._direct_routes:
            if self.root_path:
                scope["root_path"] = self.root_path
            direct = self._direct_routes.get(get_route_path(scope))
            if (
                direct is not None
                and scope["method"] in direct.methods
                and (direct.takes is None or direct.takes(scope))
            ):
                scope["app"] = self
                scope["route"] = direct.documented
                await self._built_direct_stacks()[direct.documented.path](scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _built_direct_stacks(self) -> dict[str, ASGIApp]:
        # Built on the first request, as Starlette builds its middleware stack: by then every
        # exception handler and middleware is registered.
        if self._direct_stacks is None:
            self._direct_stacks = {
                path: self._direct_stack(route.answer)
                for path, route in self._direct_routes.items()
            }
        return self._direct_stacks

    def _direct_stack(self, answer: DirectAnswer) -> ASGIApp:
        error_handler = None
        handlers = {}
        for key, handler in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = handler
            else:
                handlers[key] = handler
        handled = ExceptionMiddleware(_raise_direct_error, handlers=handlers, debug=self.debug)
        app: ASGIApp = _DirectEndpoint(answer, handled)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)


_DIRECT_ERROR = "service_kit.direct_error"


class _DirectEndpoint:
    """Reads the body, has the answer made and sends it. An exception raised until then goes to
    Starlette's ExceptionMiddleware, as if the endpoint inside it had raised it; the requests
    that raise nothing skip its wrapping of `send` and a request object."""

    def __init__(self, answer: DirectAnswer, handled: ASGIApp) -> None:
        self._answer = answer
        self._handled = handled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._answer(scope, await _whole_body(receive))
        except Exception as exc:
            scope[_DIRECT_ERROR] = exc
            await self._handled(scope, receive, send)
            return
        await response(scope, receive, send)


async def _raise_direct_error(scope: Scope, receive: Receive, send: Send) -> None:
    raise scope.pop(_DIRECT_ERROR)


async def _whole_body(receive: Receive) -> bytes:
    """The request body, read as Starlette's `Request.body()` reads it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect


def build_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    application_name: str,
    routers: Sequence[APIRouter],
    extra_lifespan: ExtraLifespan | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    configure_logs: bool = True,
) -> ServiceApp:
    """Build a service app. Engines and clients are created when it starts, never at import."""
    start_error_reporting(settings, application_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging(settings.log_level)
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            application_name=application_name,
            keep_overflow=True,
        )
        redis = create_redis(settings.redis_url)
        state = LifespanState(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            read_sessionmaker=create_read_sessionmaker(engine),
            redis=redis,
            readiness_checks={"postgres": postgres_check(engine), "redis": redis_check(redis)},
            kept_connections=KeptConnections(engine, keep=settings.db_pool_size),
            kept_redis=KeptRedis(redis),
        )
        set_lifespan_state(app, state)
        # What is alive once started (modules, models, schemas, routes) lives as long as the
        # process: keep it out of the cyclic collector's full passes, which otherwise walk it
        # again and again on a request that allocates much (half the CPU of a 5,000-entry
        # invoice page went there). Unfrozen on shutdown, so the next app in a test process
        # starts clean.
        gc.freeze()
        try:
            if extra_lifespan is None:
                yield
            else:
                async with extra_lifespan(app):
                    yield
        finally:
            gc.unfreeze()
            await state.kept_connections.aclose()
            await state.kept_redis.aclose()
            await redis.aclose()
            await engine.dispose()

    app = ServiceApp(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_tags=openapi_tags,
    )
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.add_middleware(
        RequestContextMiddleware,
        metrics=HttpMetrics(registry),
        max_body_bytes=settings.max_body_bytes,
    )
    install_problem_handlers(app)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    return app
