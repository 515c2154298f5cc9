"""Migrations lg0005-lg0007 on a database that already holds payloads and a batch: every
payload keeps its state (waiting, skipped, sent) and its licence text, both ways."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.migrations import downgrade, upgrade
from tests.support.database import recreate_database
from tests.support.infra import database_name_for_tests

BEFORE_QUEUE = "lg0004"
LICENCE = {"reference": "IMA/2024/00001", "quantity": 1.50, "name": "Łódź"}
PAYLOADS = [  # (icms id suffix, is_processed, skip_process)
    ("1", False, False),
    ("2", False, True),
    ("3", True, False),
]


async def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = [tuple(row) for row in await connection.execute(text(query))]
    await engine.dispose()
    return rows


async def _execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    await engine.dispose()


async def test_payload_states_survive_the_queue_migrations_both_ways() -> None:
    url = await recreate_database(f"{database_name_for_tests()}_queue")
    await asyncio.to_thread(upgrade, "licence_gateway", url, BEFORE_QUEUE)
    data = json.dumps(LICENCE).replace("'", "''")
    await _execute(
        url,
        *(
            "INSERT INTO licence_gateway.licence_payloads"
            " (icms_id, action, reference, licence_type, data, is_processed, skip_process)"
            f" VALUES ('00000000-0000-4000-8000-00000000000{n}', 'insert', 'IMA/2024/0000{n}',"
            f" 'SIL', '{data}'::jsonb, {processed}, {skip})"
            for n, processed, skip in PAYLOADS
        ),
    )

    await asyncio.to_thread(upgrade, "licence_gateway", url)

    assert await _rows(
        url,
        "SELECT p.reference, p.skip_process, q.payload_id IS NOT NULL"
        " FROM licence_gateway.licence_payloads p"
        " LEFT JOIN licence_gateway.waiting_payloads q ON q.payload_id = p.id ORDER BY p.id",
    ) == [
        ("IMA/2024/00001", False, True),
        ("IMA/2024/00002", True, True),
        ("IMA/2024/00003", False, False),
    ]
    [(stored,)] = await _rows(url, "SELECT data FROM licence_gateway.licence_payloads LIMIT 1")
    assert stored == LICENCE  # json now, decoded by the driver

    await asyncio.to_thread(downgrade, "licence_gateway", url, BEFORE_QUEUE)

    assert await _rows(
        url,
        "SELECT reference, is_processed, skip_process FROM licence_gateway.licence_payloads"
        " ORDER BY id",
    ) == [(f"IMA/2024/0000{n}", processed, skip) for n, processed, skip in PAYLOADS]
