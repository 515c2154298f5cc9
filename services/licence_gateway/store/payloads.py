"""Licence payloads as ICMS sent them, and the queries the ingest API runs over them.

`data` is the `licence` object exactly as decoded from the request, stored as json text: it keeps
each number as written (`26710.0` stays `26710.0`, `1.50` stays `1.50`), and SQLAlchemy decodes it
with `json.loads`, so a quantity prints as Python's `str()` of the number ICMS sent, as the
original did.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import sqlalchemy.exc
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    and_,
    exists,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, column_property, mapped_column

from licence_gateway.store.base import Base
from service_kit.db import autocommit_connection

ACTION_LENGTH = 7
REFERENCE_LENGTH = 35
TYPE_LENGTH = 10


class WaitingPayload(Base):
    """The batching job's queue: each payload no batch has carried yet, with its arrival time.

    A trigger adds every new payload, whatever inserts it (migration lg0006); the batch that
    carries a payload deletes its row here. Deleting a narrow row updates no index and copies
    nothing, where marking the payload row itself rewrote it, licence and all, in three indexes.
    """

    __tablename__ = "waiting_payloads"
    __table_args__ = (Index("ix_waiting_payloads_arrival", "received_at", "payload_id"),)

    payload_id: Mapped[int] = mapped_column(
        ForeignKey("licence_payloads.id", ondelete="CASCADE"), primary_key=True
    )
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LicencePayload(Base):
    """One licence instruction accepted from ICMS; the batching job turns it into a CHIEF record."""

    __tablename__ = "licence_payloads"
    __table_args__ = (UniqueConstraint("icms_id", "action"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    icms_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    licence_type: Mapped[str] = mapped_column(String(TYPE_LENGTH))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Read-only: carried by a batch, i.e. no longer in the queue.
    is_processed: Mapped[bool] = column_property(
        ~exists().where(WaitingPayload.payload_id == id).correlate_except(WaitingPayload)
    )
    skip_process: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


def in_queue() -> ColumnElement[bool]:
    return exists().where(WaitingPayload.payload_id == LicencePayload.id)


def payload_waiting() -> ColumnElement[bool]:
    """A payload the next batch takes: not yet sent, not skipped."""
    return and_(in_queue(), LicencePayload.skip_process.is_(False))


def payload_skipped() -> ColumnElement[bool]:
    """A payload left out of batches on purpose (the skip flag), not yet sent."""
    return and_(in_queue(), LicencePayload.skip_process.is_(True))


# What reaching PostgreSQL fails with (refused, dropped, timed out), as opposed to a bad statement.
DATABASE_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.InterfaceError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.OperationalError,
)


class Ingest(enum.Enum):
    STORED = "stored"
    ALREADY_STORED = "already stored"
    CONFLICT = "conflict"


Key = tuple[uuid.UUID, str]
"""What identifies a stored payload (icms_id, action): no two are stored under one key."""


@dataclass(frozen=True)
class NewPayload:
    icms_id: uuid.UUID
    action: str
    reference: str
    licence_type: str
    data: dict[str, Any]

    @property
    def key(self) -> Key:
        return (self.icms_id, self.action)

    def fits_its_columns(self) -> bool:
        return (
            len(self.action) <= ACTION_LENGTH
            and len(self.reference) <= REFERENCE_LENGTH
            and len(self.licence_type) <= TYPE_LENGTH
        )


# The ingest hot path, straight on asyncpg: one statement for any number of payloads (the direct
# route gives it those of concurrent requests at once, `api.icms_direct`), no ORM round trip.
# The rows go as one JSON array (the driver encodes array parameters element by element, each
# checked against abstract base classes); a `json` value taken out of it is its text as sent.
_INSERT = """
    INSERT INTO licence_gateway.licence_payloads (icms_id, action, reference, licence_type, data)
    SELECT icms_id, action, reference, licence_type, data
    FROM json_to_recordset($1::json)
        AS new (icms_id uuid, action text, reference text, licence_type text, data json)
    ON CONFLICT (icms_id, action) DO NOTHING
    RETURNING id
"""
_STORED = """
    SELECT icms_id, action, id, data::text FROM licence_gateway.licence_payloads
    WHERE (icms_id, action) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
"""


async def store_payload(session: AsyncSession, payload: NewPayload) -> Ingest:
    """Insert the payload unless its (icms_id, action) is already stored.

    A repeat is harmless when its licence is identical (ICMS retrying after a lost answer), and a
    conflict when it differs: the stored one may already be on its way to CHIEF.

    On a fresh session the INSERT runs on a connection in autocommit, so it is committed (durable:
    synchronous_commit) when this returns, in one round trip. In a session already in a
    transaction (a caller's, or a test's) it joins that transaction.
    """
    connection = await autocommit_connection(session)
    raw = await connection.get_raw_connection()
    return await store_payload_on(raw.driver_connection, payload)


async def store_payload_on(driver: Any, payload: NewPayload) -> Ingest:
    """`store_payload` on an asyncpg connection: in autocommit (no transaction begun on it), the
    INSERT is committed when this returns; in a transaction, it joins it."""
    (outcome,) = await store_payloads_on(driver, [payload])
    return outcome


async def store_payloads_on(driver: Any, payloads: Sequence[NewPayload]) -> list[Ingest]:
    """`store_payload_on` for each payload, in order, as if one after the other: a payload
    repeating an earlier one's (icms_id, action) is compared with what that one left stored.

    Payloads of distinct keys go in one INSERT (in autocommit, committed together). Its rows are
    inserted in key order, so two such statements running at once, each meeting a row the other
    has inserted and not yet committed, wait for each other in one order, never in a cycle."""
    keys = [payload.key for payload in payloads]
    outcomes: dict[int, Ingest] = {}
    left: Sequence[int] = range(len(payloads))
    while left:
        distinct, left = _first_of_each_key(keys, left)
        stored = await _insert(driver, [payloads[index] for index in distinct])
        outcomes.update(zip(distinct, stored, strict=True))
    return [outcomes[index] for index in range(len(payloads))]


def _first_of_each_key(keys: list[Key], indexes: Sequence[int]) -> tuple[list[int], list[int]]:
    """The indexes of the first payload of each key, in key order; the indexes of the others."""
    seen: set[Key] = set()
    first: list[int] = []
    repeats: list[int] = []
    for index in indexes:
        (repeats if keys[index] in seen else first).append(index)
        seen.add(keys[index])
    first.sort(key=keys.__getitem__)
    return first, repeats


async def _insert(driver: Any, payloads: list[NewPayload]) -> list[Ingest]:
    """Payloads of distinct keys in one INSERT; each one not inserted is compared with the
    licence stored under its key."""
    rows = orjson.dumps(payloads).decode()  # each payload an object of its fields
    inserted = await driver.fetch(_INSERT, rows)
    if len(inserted) == len(payloads):
        return [Ingest.STORED] * len(payloads)
    stored = {
        (row[0], row[1]): (row[2], row[3])
        for row in await driver.fetch(
            _STORED, [p.icms_id for p in payloads], [p.action for p in payloads]
        )
    }
    ours = {row[0] for row in inserted}
    outcomes = []
    for payload in payloads:
        stored_id, stored_data = stored[payload.key]
        if stored_id in ours:
            outcomes.append(Ingest.STORED)
        elif _same_json(orjson.loads(stored_data), payload.data):
            outcomes.append(Ingest.ALREADY_STORED)
        else:
            outcomes.append(Ingest.CONFLICT)
    return outcomes


def licence_data(stored: str | bytes) -> dict[str, Any]:
    """A stored `data` read as text or its UTF-8 bytes, decoded to what `json.loads` gives
    (orjson reads the same numbers, faster; an integer beyond 64 bits, which orjson refuses,
    goes to `json.loads`)."""
    try:
        data: dict[str, Any] = orjson.loads(stored)
    except orjson.JSONDecodeError:
        data = json.loads(stored)
    return data


def _same_json(a: object, b: object) -> bool:
    # Key order does not matter, number form does: 1 and 1.0 print differently in the file.
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        b, option=orjson.OPT_SORT_KEYS
    )
