"""Invoice checker settings: every variable starts with INVOICE_CHECKER_."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings, load_settings


class InvoiceCheckerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INVOICE_CHECKER_", env_ignore_empty=True, extra="ignore"
    )

    # 10000ft (Resource Management by Smartsheet) and the hour sync.
    tenkfeet_api_url: str = Field(
        default="https://api.rm.smartsheet.com",
        description="10000ft API host, without /api/v1 (paging.next paths are relative to it)",
    )
    tenkfeet_api_token: SecretStr = Field(
        default=SecretStr(""), description="10000ft API token, sent in the `auth` header"
    )
    tenkfeet_timeout_seconds: float = Field(default=60, gt=0, description="Per-request timeout")
    tenkfeet_max_retries: int = Field(
        default=6, ge=0, le=20, description="Retries on 429, 5xx and timeouts, with backoff"
    )
    tenkfeet_concurrency: int = Field(
        default=6, ge=1, le=64, description="Time-entry days fetched at once"
    )


def get_settings() -> InvoiceCheckerSettings:
    return load_settings(InvoiceCheckerSettings)
