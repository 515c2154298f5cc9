"""Licences stored together (`store_payloads_on`: the direct route gives it the licences of
concurrent requests at once) end as they would stored one after the other: the same outcome for
each, the same rows, whatever the grouping and however keys and licences repeat."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from licence_gateway.store.payloads import Ingest, NewPayload, store_payloads_on

# Licences that are the same object in other forms (key order), and others that are not (a
# number in another form prints differently, so it is another licence).
LICENCES: list[dict[str, Any]] = [
    {"a": 1, "b": "Łódź", "goods": [{"quantity": 1}]},
    {"b": "Łódź", "a": 1, "goods": [{"quantity": 1}]},
    {"a": 1, "b": "Łódź", "goods": [{"quantity": 1.0}]},
    {"a": 2, "b": 'line\nbreak "quoted" \\ back', "goods": [{"quantity": 26710.0}]},
]

plans = st.lists(
    st.tuples(
        st.integers(0, 3),  # which licence id
        st.sampled_from(["insert", "cancel"]),
        st.integers(0, len(LICENCES) - 1),
    ),
    min_size=1,
    max_size=12,
)


async def stored_in_batches(
    engine: AsyncEngine, batches: Sequence[Sequence[NewPayload]]
) -> tuple[list[Ingest], dict[tuple[uuid.UUID, str], str]]:
    """The outcomes of storing `batches` one after another, and the rows they left (as text),
    in a transaction rolled back afterwards."""
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        transaction = driver.transaction()
        await transaction.start()
        try:
            outcomes = [
                outcome for batch in batches for outcome in await store_payloads_on(driver, batch)
            ]
            keys = {payload.key for batch in batches for payload in batch}
            rows = await driver.fetch(
                "SELECT icms_id, action, data::text FROM licence_gateway.licence_payloads"
                " WHERE icms_id = ANY($1::uuid[])",
                sorted({icms_id for icms_id, _ in keys}),
            )
        finally:
            await transaction.rollback()
    return outcomes, {(row[0], row[1]): row[2] for row in rows}


def cut(payloads: list[NewPayload], sizes: list[int]) -> list[list[NewPayload]]:
    batches, start = [], 0
    for size in sizes:
        if start >= len(payloads):
            break
        batches.append(payloads[start : start + size])
        start += size
    if start < len(payloads):
        batches.append(payloads[start:])
    return batches


@settings(max_examples=40, deadline=None)
@given(plan=plans, sizes=st.lists(st.integers(1, 12), max_size=12))
async def test_batches_store_and_answer_as_one_payload_after_another(
    plan: list[tuple[int, str, int]], sizes: list[int], engine: AsyncEngine
) -> None:
    ids = [uuid.uuid4() for _ in range(4)]
    payloads = [
        NewPayload(ids[which], action, "IMA/2022/00001", "SIL", LICENCES[licence])
        for which, action, licence in plan
    ]
    one_by_one = await stored_in_batches(engine, [[payload] for payload in payloads])
    together = await stored_in_batches(engine, cut(payloads, sizes))
    assert together == one_by_one


async def test_a_batch_stores_each_licence_as_sent(engine: AsyncEngine) -> None:
    payloads = [
        NewPayload(uuid.uuid4(), "insert", "IMA/2022/00001", "SIL", licence) for licence in LICENCES
    ]
    outcomes, rows = await stored_in_batches(engine, [payloads])
    assert outcomes == [Ingest.STORED] * len(payloads)
    # The text stored is the licence as one payload alone stores it (numbers in their form).
    alone = [(await stored_in_batches(engine, [[payload]]))[1] for payload in payloads]
    assert rows == {key: text for row in alone for key, text in row.items()}
    assert rows[payloads[2].key] == '{"a":1,"b":"Łódź","goods":[{"quantity":1.0}]}'
