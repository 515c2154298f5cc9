"""Licence gateway settings: every variable starts with LICENCE_GATEWAY_."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings, load_settings


class LicenceGatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LICENCE_GATEWAY_", env_ignore_empty=True, extra="ignore"
    )


def get_settings() -> LicenceGatewaySettings:
    return load_settings(LicenceGatewaySettings)
