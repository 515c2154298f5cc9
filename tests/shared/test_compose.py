"""No Docker engine here: check docker-compose.yml by reading it."""

from pathlib import Path

import click
import pytest
import yaml

from invoice_checker.cli import main as checker_cli
from invoice_checker.settings import InvoiceCheckerSettings
from licence_gateway.cli import main as gateway_cli
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
CLIS = {"licence-gateway": gateway_cli, "invoice-checker": checker_cli}
SETTINGS: dict[str, type[ServiceSettings]] = {
    "LICENCE_GATEWAY_": LicenceGatewaySettings,
    "INVOICE_CHECKER_": InvoiceCheckerSettings,
}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def our_services() -> dict[str, dict]:
    return {name: svc for name, svc in compose()["services"].items() if "build" in svc}


def test_compose_has_postgres_16_redis_7_and_both_services() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    names = set(our_services())
    for prefix in ("licence-gateway", "invoice-checker"):
        assert {f"{prefix}-api", f"{prefix}-worker", f"{prefix}-migrate"} <= names
    for name, service in services.items():
        if not name.endswith("-migrate"):
            assert "healthcheck" in service, name


@pytest.mark.parametrize("name", sorted(our_services()))
def test_every_command_is_a_real_cli_entry_point(name: str) -> None:
    command = our_services()[name]["command"]
    group = CLIS[command[0]]
    context = group.make_context(command[0], list(command[1:]), resilient_parsing=True)
    sub_name, sub, args = group.resolve_command(context, list(command[1:]))
    assert isinstance(sub, click.Command), sub_name
    sub.make_context(sub_name, args)  # raises on an unknown option


def _env_files() -> set[str]:
    return {svc["env_file"] for svc in our_services().values()}


@pytest.mark.parametrize("env_file", sorted(_env_files()))
def test_every_env_var_is_a_known_setting(env_file: str) -> None:
    lines = (ROOT / env_file).read_text().splitlines()
    names = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert names
    for name in names:
        prefix = next(p for p in SETTINGS if name.startswith(p))
        field = name.removeprefix(prefix).lower()
        assert field in SETTINGS[prefix].model_fields, name


def test_dockerfile_runs_as_non_root_in_stages() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") >= 2
    assert "\nUSER app" in dockerfile
