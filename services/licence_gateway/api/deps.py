"""Typed dependencies on what the app's lifespan owns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from licence_gateway.settings import LicenceGatewaySettings
from service_kit.state import settings_reader

app_settings = settings_reader(LicenceGatewaySettings)
SettingsDep = Annotated[LicenceGatewaySettings, Depends(app_settings)]
