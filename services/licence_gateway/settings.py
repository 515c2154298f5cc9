"""Licence gateway settings: every variable starts with LICENCE_GATEWAY_."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings, SettingsError, load_settings


class LicenceGatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LICENCE_GATEWAY_", env_ignore_empty=True, extra="ignore"
    )

    # ICMS-facing API: Hawk credentials, the same pair in both directions.
    icms_hawk_id: str = Field(
        default="icms-api",
        description="Hawk credentials id ICMS signs with (and we sign our calls to ICMS with)",
    )
    icms_hawk_key: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Hawk key shared with ICMS; empty refuses every ICMS request with 401 (logged as an "
            "error at start)"
        ),
    )
    hawk_disabled: bool = Field(
        default=False,
        description=(
            "true accepts unsigned ICMS requests and signs no answers (logged as a warning at "
            "start); refused in production (start-up stops)"
        ),
    )
    health_payload_max_age_seconds: int = Field(
        default=300,
        ge=1,
        description="/healthcheck/ fails while an unsent, non-skipped payload is older than this",
    )
    health_reply_max_wait_seconds: int = Field(
        default=3600,
        ge=1,
        description=(
            "/healthcheck/ fails while a mail sent longer ago than this has no processed reply"
        ),
    )

    # Mail transport and the ICMS client. An empty host/URL means "not configured":
    # the service still starts and is ready; the feature says what to set when it is used.
    tls_ca_file: str = Field(
        default="",
        description=(
            "Extra CA bundle (PEM) trusted for SMTP, POP3, the identity platform and ICMS; empty "
            "uses the system store"
        ),
    )
    smtp_host: str = Field(
        default="",
        description="SMTP relay licenceData e-mails go through; empty: sending is not configured",
    )
    smtp_port: int = Field(
        default=587, ge=1, le=65535, description="587 for STARTTLS, 465 for implicit TLS"
    )
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls, tls (SMTPS) or none (local simulators only; refused in production)",
    )
    smtp_auth: Literal["password", "xoauth2", "none"] = Field(
        default="password",
        description="password, xoauth2 (token from the AZURE_* settings) or none",
    )
    smtp_username: str = Field(default="", description="SMTP login; also the From address")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password")
    smtp_from_address: str = Field(
        default="", description="From address when it is not the login (empty: the username)"
    )
    smtp_to_address: str = Field(
        default="", description="The HMRC CHIEF mailbox licenceData goes to"
    )
    smtp_timeout_seconds: float = Field(
        default=60, gt=0, description="Per SMTP operation; a timeout is a transient failure"
    )
    smtp_legacy_layout: bool = Field(
        default=False,
        description=(
            "true sends the original's legacy MIME layout (raw 7-bit text under a base64 header, "
            "name: headers, no Date or Message-ID) for a relay that needs it; false sends a "
            "standard multipart message with the ASCII file base64-encoded, Date and Message-ID"
        ),
    )
    pop3_host: str = Field(
        default="",
        description=(
            "POP3 server of the mailbox HMRC replies to (e.g. outlook.office365.com); empty: "
            "reading is not configured"
        ),
    )
    pop3_port: int = Field(
        default=995, ge=1, le=65535, description="995 for POP3S, 110 for STARTTLS"
    )
    pop3_security: Literal["tls", "starttls", "none"] = Field(
        default="tls",
        description=(
            "tls (POP3S), starttls (STLS) or none (local simulators only; refused in production)"
        ),
    )
    pop3_auth: Literal["xoauth2", "password"] = Field(
        default="xoauth2",
        description=(
            "xoauth2 (Microsoft 365, token from the AZURE_* settings) or password (USER/PASS)"
        ),
    )
    pop3_username: str = Field(default="", description="The mailbox")
    pop3_password: SecretStr = Field(
        default=SecretStr(""), description="The mailbox's password, for POP3_AUTH=password"
    )
    pop3_timeout_seconds: float = Field(default=60, gt=0, description="per POP3 operation")
    azure_tenant_id: str = Field(
        default="",
        description=(
            "Tenant of the app registration whose client-credentials tokens log in with XOAUTH2"
        ),
    )
    azure_client_id: str = Field(
        default="",
        description="App (client) id for XOAUTH2 (msal; the token is cached until it expires)",
    )
    azure_client_secret: SecretStr = Field(
        default=SecretStr(""), description="The app registration's client secret"
    )
    azure_authority_host: str = Field(
        default="https://login.microsoftonline.com",
        description="Identity platform (the Microsoft identity simulator locally; https only)",
    )
    azure_scope: str = Field(
        default="https://outlook.office.com/.default", description="scope of the mail token"
    )
    icms_api_url: str = Field(
        default="",
        description=(
            "ICMS base URL; callbacks go to chief/license-data-callback and "
            "chief/usage-data-callback under it (a missing trailing / is added)"
        ),
    )
    icms_timeout_seconds: float = Field(
        default=60, gt=0, description="Per ICMS request; a timeout is a transient failure"
    )

    # Mail flow jobs, operator commands and the admin API.
    chief_source_system: str = Field(
        default="ILBDOTI",
        description="fileHeader sourceSystem and part of each licenceData file name (never CHIEF)",
    )
    hmrc_sender_address: str = Field(
        default="",
        description=(
            "From address of HMRC's replies; other mail is left in the box. Needed to read the "
            "mailbox"
        ),
    )
    hmrc_trusted_authserv_id: str = Field(
        default="",
        description=(
            "authserv-id of our receiving server (e.g. Exchange Online) whose"
            " Authentication-Results must show dmarc=pass, or dkim=pass for HMRC's domain, before"
            " a reply is applied; empty skips the check (local simulators only)"
        ),
    )
    batch_every_minutes: int = Field(
        default=10, ge=1, le=60, description="Batching job: at minutes 0, n, 2n… of each hour"
    )
    inbox_every_minutes: int = Field(
        default=5, ge=1, le=60, description="Mailbox job, at second 30 of those minutes"
    )
    callbacks_every_minutes: int = Field(
        default=5, ge=1, le=60, description="ICMS callbacks job, at second 45 of those minutes"
    )
    first_run_number: int = Field(
        default=1,
        ge=1,
        description=(
            "Run number of the first batch when none exists (the last live run + 1 at go-live)"
        ),
    )
    admin_token: SecretStr = Field(
        default=SecretStr(""), description="Bearer token of /admin/…; empty answers 503"
    )

    @field_validator("chief_source_system")
    @classmethod
    def _a_source_chief_accepts(cls, value: str) -> str:
        # CHIEF refuses a file whose source is itself; a backslash would split the header.
        if not value or value == "CHIEF" or "\\" in value:
            raise ValueError("must be the system CHIEF knows us by (e.g. ILBDOTI), not CHIEF")
        return value

    @field_validator("icms_api_url")
    @classmethod
    def _icms_url_is_a_folder(cls, value: str) -> str:
        # The callback paths are joined onto it: without the slash urljoin drops a segment.
        return value if not value or value.endswith("/") else f"{value}/"


# Settings that are fine on a laptop and dangerous in production: start-up refuses them there.
UNSAFE_IN_PRODUCTION = {
    "hawk_disabled": True,
    "smtp_security": "none",
    "pop3_security": "none",
}


def refuse_unsafe_in_production(settings: LicenceGatewaySettings) -> None:
    """Raise SettingsError naming the first setting that must not be used in production."""
    if settings.environment != "production":
        return
    for name, unsafe in UNSAFE_IN_PRODUCTION.items():
        if getattr(settings, name) == unsafe:
            raise SettingsError(
                f"LICENCE_GATEWAY_{name.upper()}={str(unsafe).lower()} is not allowed"
                " when LICENCE_GATEWAY_ENVIRONMENT=production"
            )


def get_settings() -> LicenceGatewaySettings:
    settings = load_settings(LicenceGatewaySettings)
    refuse_unsafe_in_production(settings)
    return settings


class NotConfiguredError(RuntimeError):
    """A feature was used whose settings are empty; the message names what to set."""


def require(settings: LicenceGatewaySettings, feature: str, *names: str) -> None:
    """Raise NotConfiguredError naming every empty setting among `names`."""
    missing = [name for name in names if not _is_set(getattr(settings, name))]
    if missing:
        variables = ", ".join(f"LICENCE_GATEWAY_{name.upper()}" for name in missing)
        raise NotConfiguredError(f"{feature} is not configured: set {variables}")


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)
