"""Invoice checker settings: every variable starts with INVOICE_CHECKER_."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings, load_settings


class InvoiceCheckerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INVOICE_CHECKER_", env_ignore_empty=True, extra="ignore"
    )


def get_settings() -> InvoiceCheckerSettings:
    return load_settings(InvoiceCheckerSettings)
