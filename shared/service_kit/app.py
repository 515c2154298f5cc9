"""The app factory both services share: lifespan-owned engine and Redis, errors, health, metrics."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry

from service_kit.db import create_engine, create_read_sessionmaker, create_sessionmaker
from service_kit.error_reporting import start_error_reporting
from service_kit.errors import install_problem_handlers
from service_kit.health import health_router, postgres_check, redis_check
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
) -> FastAPI:
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
        )
        redis = create_redis(settings.redis_url)
        state = LifespanState(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            read_sessionmaker=create_read_sessionmaker(engine),
            redis=redis,
            readiness_checks={"postgres": postgres_check(engine), "redis": redis_check(redis)},
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
            await redis.aclose()
            await engine.dispose()

    app = FastAPI(
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
