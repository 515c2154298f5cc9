"""Work contracts and manual flex-time corrections: the stored inputs of the flex saldo."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.store.base import Base


class WorkContract(Base):
    """A period of employment with a work-time percentage. Versioned (history table)."""

    __tablename__ = "work_contracts"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="period"),
        CheckConstraint("worktime_percent BETWEEN 1 AND 100", name="worktime_percent"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenkfeet_users.guid", ondelete="CASCADE"), index=True
    )
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    flex_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    worktime_percent: Mapped[int] = mapped_column(Integer, server_default=text("100"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class FlexTimeCorrection(Base):
    """`set_to` restarts the saldo on a date; `adjust_by` adds to it. Exactly one is set."""

    __tablename__ = "flex_time_corrections"
    __table_args__ = (CheckConstraint("(adjust_by IS NULL) <> (set_to IS NULL)", name="one_kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenkfeet_users.guid", ondelete="CASCADE"), index=True
    )
    date: Mapped[date] = mapped_column(Date)
    adjust_by: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    set_to: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
