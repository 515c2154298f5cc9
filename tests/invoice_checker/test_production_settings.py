"""Unsafe production settings (issue 12): with ENVIRONMENT=production the server and worker
refuse to start, exit 2, one line naming the setting."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from invoice_checker.cli import main as cli
from invoice_checker.settings import InvoiceCheckerSettings
from service_kit.settings import SettingsError, check_safe_to_start

GOOD_SECRET = "s" * 32


def _env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        "INVOICE_CHECKER_DATABASE_URL": database_url,
        "INVOICE_CHECKER_REDIS_URL": redis_url,
        "INVOICE_CHECKER_ENVIRONMENT": "production",
        "INVOICE_CHECKER_SESSION_SECRET": GOOD_SECRET,
    }
    return env | {f"INVOICE_CHECKER_{name.upper()}": value for name, value in extra.items()}


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"cookie_secure": "false"}, "INVOICE_CHECKER_COOKIE_SECURE"),
        ({"session_secret": "s" * 31}, "INVOICE_CHECKER_SESSION_SECRET"),
        ({"session_secret": "ä" * 15}, "INVOICE_CHECKER_SESSION_SECRET"),  # 30 bytes
    ],
)
def test_unsafe_production_settings_refuse_to_start(
    database_url: str, redis_url: str, command: str, extra: dict[str, str], named: str
) -> None:
    result = CliRunner().invoke(cli, [command], env=_env(database_url, redis_url, **extra))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {named}:"), result.output
    assert "ENVIRONMENT=production" in lines[0]


def test_safe_or_non_production_settings_pass(database_url: str, redis_url: str) -> None:
    base: dict[str, Any] = {"database_url": database_url, "redis_url": redis_url}
    check_safe_to_start(
        InvoiceCheckerSettings(**base, session_secret=SecretStr(GOOD_SECRET))  # production
    )
    check_safe_to_start(
        InvoiceCheckerSettings(**base, environment="development", cookie_secure=False)
    )
    with pytest.raises(SettingsError, match=r"^INVOICE_CHECKER_SESSION_SECRET"):
        check_safe_to_start(InvoiceCheckerSettings(**base))  # empty secret
