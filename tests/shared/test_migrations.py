import asyncio
import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import service_kit.migrations
from invoice_checker.store.models import Base as CheckerBase
from licence_gateway.store.models import Base as GatewayBase
from service_kit.migrations import downgrade, migrations_dir, only_schema, upgrade
from tests.support.database import recreate_database
from tests.support.infra import database_name_for_tests

SERVICES = {"licence_gateway": GatewayBase.metadata, "invoice_checker": CheckerBase.metadata}


async def _tables(url: str, schema: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": schema},
        )
        names = {row[0] for row in rows}
    await engine.dispose()
    return names


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_up_down_up(service: str) -> None:
    url = await recreate_database(f"{database_name_for_tests()}_migrations")
    await asyncio.to_thread(upgrade, service, url)
    expected = {table.name for table in SERVICES[service].tables.values()} | {"alembic_version"}
    assert await _tables(url, service) == expected
    await asyncio.to_thread(downgrade, service, url)
    assert await _tables(url, service) == {"alembic_version"}
    await asyncio.to_thread(upgrade, service, url)
    assert await _tables(url, service) == expected


async def test_services_migrate_independently() -> None:
    url = await recreate_database(f"{database_name_for_tests()}_alone")
    await asyncio.to_thread(upgrade, "invoice_checker", url)
    assert await _tables(url, "licence_gateway") == set()
    assert "alembic_version" in await _tables(url, "invoice_checker")


@pytest.mark.parametrize("service", SERVICES)
async def test_models_and_migrations_agree(service: str, database_url: str) -> None:
    engine = create_async_engine(database_url)

    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(
            connection,  # type: ignore[arg-type]
            opts={
                "include_schemas": True,
                "include_name": only_schema(service),
                "compare_type": True,
            },
        )
        return list(compare_metadata(context, SERVICES[service]))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    await engine.dispose()
    assert differences == []


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_ship_in_the_package_whatever_the_working_directory(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    package = Path(importlib.import_module(service).__file__ or "").parent
    folder = migrations_dir(service)
    assert folder == package / "migrations"
    assert (folder / "env.py").is_file() and list((folder / "versions").glob("*.py"))


def test_the_kit_names_no_service() -> None:
    source = Path(service_kit.migrations.__file__ or "").read_text()
    assert not [name for name in SERVICES if name in source]
