"""Licence gateway settings: every variable starts with LICENCE_GATEWAY_."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings, load_settings


class LicenceGatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LICENCE_GATEWAY_", env_ignore_empty=True, extra="ignore"
    )

    # ICMS-facing API (engineer B): Hawk credentials, the same pair in both directions.
    icms_hawk_id: str = Field(default="icms-api", description="Hawk credentials id ICMS signs with")
    icms_hawk_key: SecretStr = Field(
        default=SecretStr(""), description="Hawk key shared with ICMS; unset refuses every request"
    )
    hawk_disabled: bool = Field(
        default=False, description="true turns inbound Hawk off (logged as a warning)"
    )
    health_payload_max_age_seconds: int = Field(
        default=300, ge=1, description="/healthcheck/ fails when a payload waits longer than this"
    )
    health_reply_max_wait_seconds: int = Field(
        default=3600, ge=1, description="/healthcheck/ fails when a sent mail waits longer"
    )


def get_settings() -> LicenceGatewaySettings:
    return load_settings(LicenceGatewaySettings)
