"""The docs site: the configuration page is the settings' own descriptions, and the site builds
with no warning (strict mode), the OpenAPI documents included."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from invoice_checker.settings import InvoiceCheckerSettings
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]


def _docs_pages() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "scripts" / "docs_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_configuration_page_is_what_the_settings_describe() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == _docs_pages().configuration_page(), (
        "docs/configuration.md drifted from the settings: run python scripts/docs_pages.py "
        "configuration"
    )


@pytest.mark.parametrize("settings", [LicenceGatewaySettings, InvoiceCheckerSettings])
def test_every_setting_is_described_and_on_the_page(settings: type[ServiceSettings]) -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    for name, field in settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert f"| `{name.upper()}` |" in page


def test_the_site_builds_strictly_with_each_services_openapi(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    for service, a_path in [
        ("licence-gateway", "/mail/update-licence/"),
        ("invoice-checker", "/api/v1/invoices"),
    ]:
        document = json.loads((site / "api" / f"{service}.openapi.json").read_text())
        assert a_path in document["paths"]
    assert (site / "configuration" / "index.html").exists()
