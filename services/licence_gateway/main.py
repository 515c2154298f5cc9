"""App factory for the licence gateway: `uvicorn --factory licence_gateway.main:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from licence_gateway.api.admin import admin_router
from licence_gateway.api.hawk_route import warn_if_disabled
from licence_gateway.api.icms import icms_router, pingdom_router
from licence_gateway.api.icms_direct import add_icms_direct_routes
from licence_gateway.api.metrics import LicenceMetrics
from licence_gateway.settings import LicenceGatewaySettings, get_settings
from service_kit.app import ServiceApp, build_app


def create_app(settings: LicenceGatewaySettings | None = None) -> ServiceApp:
    settings = settings or get_settings()

    @asynccontextmanager
    async def on_start(app: FastAPI) -> AsyncIterator[None]:
        warn_if_disabled(settings)  # after logging is configured, once per server process
        yield

    icms_routes = icms_router()
    app = build_app(
        title="Licence gateway",
        description=(
            "Receives Hawk-signed licence instructions from ICMS, sends them to HMRC CHIEF as"
            " licenceData e-mails, reads the replies and reports each outcome back to ICMS."
        ),
        settings=settings,
        application_name="licence_gateway",
        routers=[icms_routes, pingdom_router(), admin_router()],
        extra_lifespan=on_start,
    )
    app.state.metrics_refreshers = [LicenceMetrics(app.state.metrics_registry).refresh]
    add_icms_direct_routes(app, icms_routes)
    return app
