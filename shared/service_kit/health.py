"""Liveness, readiness (PostgreSQL and Redis, each named when down) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import JSONResponse, Response

from service_kit.errors import problem_response
from service_kit.state import ReadinessCheck, lifespan_state

logger = logging.getLogger(__name__)
CHECK_TIMEOUT_SECONDS = 2.0


def postgres_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def redis_check(redis: Redis) -> ReadinessCheck:
    async def check() -> None:
        await redis.ping()

    return check


async def run_checks(checks: dict[str, ReadinessCheck]) -> dict[str, str]:
    """Run every check at once, each bounded in time; answer 'ok' or the error per name."""

    async def one(check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return "error: timed out"
        except Exception as exc:  # any failure means "not ready", never a crash
            return f"error: {type(exc).__name__}: {exc}"[:300]
        return "ok"

    results = await asyncio.gather(*(one(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: PostgreSQL and Redis answer",
        responses={503: {"description": "A dependency is unreachable; the body names it"}},
    )
    async def readyz(request: Request) -> Response:
        results = await run_checks(lifespan_state(request).readiness_checks)
        failing = sorted(name for name, result in results.items() if result != "ok")
        if failing:
            # Anyone may call this: the error text (hosts, ports) goes to the log, not the body.
            logger.warning("not ready", extra={"checks": {n: results[n] for n in failing}})
            return problem_response(
                503,
                f"Not ready: {', '.join(failing)} unreachable.",
                title="Service Unavailable",
                checks={name: "ok" if name not in failing else "unreachable" for name in results},
            )
        return JSONResponse({"status": "ok", "checks": results})

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        registry: CollectorRegistry = request.app.state.metrics_registry
        # A service may set gauges from its database just before they are read.
        for refresh in getattr(request.app.state, "metrics_refreshers", ()):
            await refresh(request.app)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # `serve --workers N`: every process's samples, summed, whichever one answers.
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
