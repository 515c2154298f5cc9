"""Each service has its own alembic history and version table, shipped inside its package as
`<package>/migrations/` and found with importlib.resources: the kit is told the package name."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def migrations_dir(package: str) -> Path:
    """The alembic folder a service ships inside its package (`<package>/migrations`)."""
    folder = resources.files(package) / "migrations"
    if not folder.is_dir():
        raise FileNotFoundError(f"{package} ships no migrations folder")
    # Installed packages are plain folders (the wheel is not zip-imported), which alembic needs.
    return Path(str(folder))


def alembic_config(package: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir(package)))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(package, database_url), revision)


def downgrade(package: str, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(package, database_url), revision)


def only_schema(schema: str) -> Callable[[str | None, str, object], bool]:
    """An alembic `include_name` filter: this schema's objects, never the version table."""

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        if type_ == "schema":
            return name == schema
        return not (type_ == "table" and name == "alembic_version")

    return include_name


def run_env(metadata: MetaData, schema: str) -> None:
    """The body of a service's env.py: migrate only that service's schema, versioned inside it."""

    include_name = only_schema(schema)

    def run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table="alembic_version",
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = context.config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return

    async def run_async() -> None:
        engine = create_async_engine(
            context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool
        )
        async with engine.begin() as async_connection:
            await async_connection.run_sync(run)
        await engine.dispose()

    asyncio.run(run_async())
