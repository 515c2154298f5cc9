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


@dataclass(frozen=True)
class NewPayload:
    icms_id: uuid.UUID
    action: str
    reference: str
    licence_type: str
    data: dict[str, Any]

    def fits_its_columns(self) -> bool:
        return (
            len(self.action) <= ACTION_LENGTH
            and len(self.reference) <= REFERENCE_LENGTH
            and len(self.licence_type) <= TYPE_LENGTH
        )


# The ingest hot path, straight on asyncpg: one statement, no ORM round trip through greenlets.
_INSERT = """
    INSERT INTO licence_gateway.licence_payloads (icms_id, action, reference, licence_type, data)
    VALUES ($1, $2, $3, $4, $5::json)
    ON CONFLICT (icms_id, action) DO NOTHING
    RETURNING id
"""
_STORED_DATA = """
    SELECT data::text FROM licence_gateway.licence_payloads WHERE icms_id = $1 AND action = $2
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
    data = orjson.dumps(payload.data).decode()
    key = (payload.icms_id, payload.action)
    inserted = await driver.fetchval(_INSERT, *key, payload.reference, payload.licence_type, data)
    if inserted is not None:
        return Ingest.STORED
    stored = await driver.fetchval(_STORED_DATA, *key)
    return (
        Ingest.ALREADY_STORED if _same_json(orjson.loads(stored), payload.data) else Ingest.CONFLICT
    )


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
