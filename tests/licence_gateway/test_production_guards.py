"""Issue 18.4: settings that are only safe on a laptop stop start-up in production."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from licence_gateway.cli import main

UNSAFE = [
    ("LICENCE_GATEWAY_HAWK_DISABLED", "true"),
    ("LICENCE_GATEWAY_SMTP_SECURITY", "none"),
    ("LICENCE_GATEWAY_POP3_SECURITY", "none"),
]


def _run(command: str, env: dict[str, str], database_url: str, redis_url: str) -> tuple[int, str]:
    environment = {
        "LICENCE_GATEWAY_DATABASE_URL": database_url,
        "LICENCE_GATEWAY_REDIS_URL": redis_url,
        **env,
    }
    result = CliRunner().invoke(main, [command], env=environment)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(("variable", "value"), UNSAFE)
def test_unsafe_setting_in_production_stops_start_up_with_one_line(
    command: str, variable: str, value: str, database_url: str, redis_url: str
) -> None:
    code, stderr = _run(
        command,
        {"LICENCE_GATEWAY_ENVIRONMENT": "production", variable: value},
        database_url,
        redis_url,
    )
    assert code == 2
    assert stderr.count("\n") == 1 and variable in stderr and "production" in stderr


@pytest.mark.parametrize(("variable", "value"), UNSAFE)
def test_the_same_settings_are_allowed_outside_production(
    variable: str, value: str, database_url: str, redis_url: str
) -> None:
    # `check` loads settings like serve does, then only tests the connections: exit 0.
    code, stderr = _run(
        "check",
        {"LICENCE_GATEWAY_ENVIRONMENT": "development", variable: value},
        database_url,
        redis_url,
    )
    assert code == 0, stderr
