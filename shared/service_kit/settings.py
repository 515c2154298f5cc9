"""Settings base on pydantic-settings, and a loader that turns errors into one clear line."""

from __future__ import annotations

from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


class NotConfiguredError(RuntimeError):
    """A feature was used whose settings are empty; the message names what to set."""


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set `env_prefix` and add their own fields."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    database_url: str = Field(
        description=(
            "PostgreSQL URL: postgresql+asyncpg://user:pass@host:5432/db (or ?host=/socket/dir)"
        )
    )
    redis_url: str = Field(
        description="Redis URL: redis://host:6379/0, rediss://… or unix:///path/redis.sock"
    )
    environment: Environment = Field(
        default="production",
        description="development, test or production; development enables developer-only commands",
    )
    log_level: str = Field(
        default="INFO",
        description=(
            "Python log level; JSON logs go to stderr, stdout carries only a command's output"
        ),
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="SQLAlchemy pool size (overflow as much again; a server keeps both open)",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body, declared or chunked; larger ones get 413 problem+json",
    )

    sentry_dsn: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Sentry DSN: unhandled errors and ERROR log lines are reported there; empty sends "
            "nothing anywhere"
        ),
    )

    def unsafe_for_production(self) -> str | None:
        """The first setting a service must not run with in production, as `NAME: why`;
        None when safe. Services override it; `load_settings` refuses such settings."""
        return None

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, value: str) -> str:
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must start with postgresql+asyncpg://")
        parts = urlsplit(value)
        if not (parts.hostname or "host=" in parts.query):
            raise ValueError("must name a host (or ?host=/socket/dir)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def require_settings(settings: ServiceSettings, feature: str, *names: str) -> None:
    """The one "not configured" check: raise NotConfiguredError naming, as environment variables,
    every empty setting among `names` (an empty string or secret means the feature is off)."""
    missing = [name for name in names if not _is_set(getattr(settings, name))]
    if missing:
        prefix = settings.model_config.get("env_prefix", "")
        variables = ", ".join(f"{prefix}{name.upper()}" for name in missing)
        raise NotConfiguredError(f"{feature} is not configured: set {variables}")


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build settings from the environment; raise SettingsError naming the bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{prefix}{field.upper()}: {message}") from None


def check_safe_to_start(settings: ServiceSettings) -> None:
    """Raise SettingsError naming the first unsafe setting when the environment is production
    (servers and workers call this before they start)."""
    if settings.environment == "production" and (unsafe := settings.unsafe_for_production()):
        prefix = str(settings.model_config.get("env_prefix", "")).upper()
        raise SettingsError(f"{prefix}{unsafe} (refused with {prefix}ENVIRONMENT=production)")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def masked_settings(settings: ServiceSettings) -> dict[str, str]:
    """Every effective setting as text, secrets and URL passwords masked, for `check`."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    shown: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            text = "***" if value.get_secret_value() else ""
        elif isinstance(value, str) and "://" in value:
            text = mask_url(value)
        else:
            text = str(value)
        shown[f"{prefix}{name.upper()}"] = text
    return shown
