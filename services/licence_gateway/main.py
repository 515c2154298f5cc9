"""App factory for the licence gateway: `uvicorn --factory licence_gateway.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from licence_gateway.settings import LicenceGatewaySettings, get_settings
from service_kit.app import build_app


def create_app(settings: LicenceGatewaySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(
        title="Licence gateway",
        description=(
            "Receives Hawk-signed licence instructions from ICMS, sends them to HMRC CHIEF as"
            " licenceData e-mails, reads the replies and reports each outcome back to ICMS."
        ),
        settings=settings,
        application_name="licence_gateway",
        routers=[],
    )
