"""Create throwaway databases on the test server (tests, benchmarks, reliability harnesses)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.migrations import upgrade
from tests.support.infra import postgres_server_url, with_database

SERVICES = ("licence_gateway", "invoice_checker")


async def recreate_database(name: str) -> str:
    """Drop and create a database on the test server; return its asyncpg URL."""
    admin = create_async_engine(postgres_server_url(), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return with_database(postgres_server_url(), name)


async def migrated_database(name: str) -> str:
    """A fresh database migrated to head for both services."""
    url = await recreate_database(name)
    for service in SERVICES:
        await asyncio.to_thread(upgrade, service, url)
    return url
