"""The append-only history of versioned entities (users, projects, invoices, comments, fixed rows).

One table for all of them, keyed by entity type and id, written in the caller's transaction so a
change and its history commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, func, insert, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base

SYSTEM_ACTOR = "system"


class HistoryRecord(Base):
    __tablename__ = "history"
    __table_args__ = (Index("ix_history_entity", "entity_type", "entity_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(50))  # the entity's table name
    entity_id: Mapped[str] = mapped_column(String(100))  # its primary key as text
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)  # {"field": new value}
    actor: Mapped[str] = mapped_column(String(255))  # an e-mail, or "system" for syncs
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


def entity_key(entity: Base) -> tuple[str, str]:
    """(table name, primary key as text) of an ORM instance; composite keys joined by ':'."""
    identity = inspect(entity).identity
    if identity is None:
        raise ValueError("flush the entity before recording its history")
    return type(entity).__tablename__, ":".join(str(part) for part in identity)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


async def record_history(
    session: AsyncSession, entity: Base, changes: Mapping[str, Any], actor: str = SYSTEM_ACTOR
) -> None:
    """Append what changed on one entity; call it in the transaction that made the change."""
    entity_type, entity_id = entity_key(entity)
    await record_history_rows(session, entity_type, [(entity_id, changes)], actor)


def changed_fields(entity: object, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that differ from what the entity holds now."""
    return {key: value for key, value in values.items() if getattr(entity, key) != value}


async def update_with_history(
    session: AsyncSession, entity: Base, values: Mapping[str, Any], actor: str = SYSTEM_ACTOR
) -> dict[str, Any]:
    """Set the values that differ and append them to the entity's history, in one transaction."""
    changed = changed_fields(entity, values)
    for key, value in changed.items():
        setattr(entity, key, value)
    await session.flush()
    await record_history(session, entity, changed, actor)
    return changed


async def record_history_rows(
    session: AsyncSession,
    entity_type: str,
    rows: Iterable[tuple[str, Mapping[str, Any]]],
    actor: str = SYSTEM_ACTOR,
) -> None:
    """Append many (entity id, changes) at once, for syncs that change rows in bulk."""
    values = [
        {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "changes": _jsonable(changes),
            "actor": actor,
        }
        for entity_id, changes in rows
        if changes
    ]
    if values:
        await session.execute(insert(HistoryRecord), values)
