"""Licence payloads as ICMS sent them, and the queries the ingest API runs over them.

`data` is the `licence` object exactly as decoded from the request. JSONB keeps each number's
digits and scale (`26710.0` stays `26710.0`, `1.50` stays `1.50`), and SQLAlchemy decodes it with
`json.loads`, so a quantity prints as Python's `str()` of the number ICMS sent, as the original did.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from licence_gateway.store.base import Base


class LicencePayload(Base):
    """One licence instruction accepted from ICMS; the batching job turns it into a CHIEF record."""

    __tablename__ = "licence_payloads"
    __table_args__ = (
        UniqueConstraint("icms_id", "action"),
        # The batching job's queue: unprocessed payloads in arrival order.
        Index(
            "ix_licence_payloads_unprocessed",
            "received_at",
            "id",
            postgresql_where=text("NOT is_processed"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    icms_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(7))
    reference: Mapped[str] = mapped_column(String(35))
    licence_type: Mapped[str] = mapped_column(String(10))
    data: Mapped[dict[str, object]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    is_processed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    skip_process: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
