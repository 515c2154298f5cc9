import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import ServiceSettings, SettingsError, load_settings, masked_settings


def test_missing_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LICENCE_GATEWAY_DATABASE_URL", raising=False)
    monkeypatch.setenv("LICENCE_GATEWAY_REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(SettingsError, match=r"^LICENCE_GATEWAY_DATABASE_URL: Field required"):
        load_settings(LicenceGatewaySettings)


def test_malformed_database_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LICENCE_GATEWAY_DATABASE_URL", "mysql://x@y/z")
    monkeypatch.setenv("LICENCE_GATEWAY_REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(SettingsError, match="postgresql\\+asyncpg://"):
        load_settings(LicenceGatewaySettings)


def test_malformed_redis_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LICENCE_GATEWAY_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("LICENCE_GATEWAY_REDIS_URL", "http://nope")
    with pytest.raises(SettingsError, match=r"^LICENCE_GATEWAY_REDIS_URL"):
        load_settings(LicenceGatewaySettings)


def test_secrets_and_url_passwords_are_masked() -> None:
    class WithSecret(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="X_")
        token: SecretStr = SecretStr("hunter2")

    settings = WithSecret(
        database_url="postgresql+asyncpg://app:s3cret@db:5432/app", redis_url="redis://:pw@r:6379/0"
    )
    shown = masked_settings(settings)
    assert shown["X_TOKEN"] == "***"
    assert shown["X_DATABASE_URL"] == "postgresql+asyncpg://app:***@db:5432/app"
    assert (
        "s3cret" not in repr(shown) and "hunter2" not in repr(shown) and ":pw@" not in repr(shown)
    )


@pytest.mark.parametrize("command", ["licence-gateway", "invoice-checker"])
def test_cli_bad_setting_exits_with_one_line(command: str) -> None:
    prefix = command.upper().replace("-", "_")
    env = {"PATH": "", f"{prefix}_DATABASE_URL": "nonsense", f"{prefix}_REDIS_URL": "redis://h/0"}
    module = command.replace("-", "_") + ".cli"
    result = subprocess.run(
        [sys.executable, "-c", f"import {module} as m; m.main()", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: {prefix}_DATABASE_URL: must start with postgresql+asyncpg://"
    )
    assert "Traceback" not in result.stderr


def test_settings_are_read_from_a_dot_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LICENCE_GATEWAY_DATABASE_URL", "LICENCE_GATEWAY_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(
        "LICENCE_GATEWAY_DATABASE_URL=postgresql+asyncpg://u@db/app\n"
        "LICENCE_GATEWAY_REDIS_URL=redis://cache:6379/3\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(LicenceGatewaySettings)
    assert settings.redis_url == "redis://cache:6379/3"
