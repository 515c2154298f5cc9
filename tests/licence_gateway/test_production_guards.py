"""Issue 18.4: settings that are only safe on a laptop stop start-up in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

UNSAFE = [
    ("LICENCE_GATEWAY_HAWK_DISABLED", "true"),
    ("LICENCE_GATEWAY_SMTP_SECURITY", "none"),
    ("LICENCE_GATEWAY_POP3_SECURITY", "none"),
]
COMMAND = str(Path(sys.executable).parent / "licence-gateway")


def run(command: str, env: dict[str, str], database_url: str, redis_url: str) -> tuple[int, str]:
    """The real command in its own process; a server that starts anyway times the test out."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LICENCE_GATEWAY_")}
    environment |= {
        "LICENCE_GATEWAY_DATABASE_URL": database_url,
        "LICENCE_GATEWAY_REDIS_URL": redis_url,
        **env,
    }
    args = [COMMAND, command] + (["--port", "0"] if command == "serve" else [])
    finished = subprocess.run(
        args, env=environment, capture_output=True, text=True, timeout=30, check=False
    )
    return finished.returncode, finished.stderr


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [("serve", *unsafe) for unsafe in UNSAFE] + [("worker", *UNSAFE[0])],
)
def test_unsafe_setting_in_production_stops_start_up_with_one_line(
    command: str, variable: str, value: str, database_url: str, redis_url: str
) -> None:
    code, stderr = run(
        command,
        {"LICENCE_GATEWAY_ENVIRONMENT": "production", variable: value},
        database_url,
        redis_url,
    )
    assert code == 2
    assert stderr.count("\n") == 1 and variable in stderr and "production" in stderr


def test_the_same_settings_are_allowed_outside_production(
    database_url: str, redis_url: str
) -> None:
    # `check` loads settings as serve does, then only tests the connections: exit 0.
    code, stderr = run(
        "check",
        {"LICENCE_GATEWAY_ENVIRONMENT": "development", **dict(UNSAFE)},
        database_url,
        redis_url,
    )
    assert code == 0, stderr
