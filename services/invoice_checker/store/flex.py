"""Work contracts and manual flex-time corrections: the stored inputs of the flex saldo."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.flex import (
    Contract,
    Correction,
    FlexError,
    FlexInputs,
    calculate_flex_saldo,
    is_active,
    saldo_band,
)
from invoice_checker.domain.flex import HourEntry as FlexHourEntry
from invoice_checker.store.base import Base
from invoice_checker.store.directory import PublicHoliday, TenkfeetUser
from invoice_checker.store.hours import HourEntry


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


async def load_flex_inputs(
    session: AsyncSession,
    user: TenkfeetUser,
    *,
    today: date,
    flex_last_day: date | None = None,
    ignore_events: bool = False,
) -> FlexInputs:
    """Everything the flex calculation reads about one person, from the database."""
    contracts = await session.execute(
        select(WorkContract).where(WorkContract.user_guid == user.guid)
    )
    corrections = await session.execute(
        select(FlexTimeCorrection).where(FlexTimeCorrection.user_guid == user.guid)
    )
    holidays = await session.execute(
        select(PublicHoliday.date, PublicHoliday.name).where(PublicHoliday.date <= today)
    )
    entries = await session.execute(
        select(
            HourEntry.date,
            HourEntry.incurred_hours,
            HourEntry.project,
            HourEntry.leave_type,
            HourEntry.phase_name,
            HourEntry.status,
        ).where(HourEntry.user_guid == user.guid, HourEntry.status != EntryStatus.UNSUBMITTED)
    )
    return FlexInputs(
        contracts=[to_contract(c) for c in contracts.scalars()],
        corrections=[
            Correction(
                date=c.date,
                adjust_by=None if c.adjust_by is None else float(c.adjust_by),
                set_to=None if c.set_to is None else float(c.set_to),
            )
            for c in corrections.scalars()
        ],
        holidays={row.date: row.name for row in holidays},
        entries=[FlexHourEntry(*row) for row in entries],
        today=today,
        flex_last_day=flex_last_day,
        ignore_events=ignore_events,
        person=user.full_name,
    )


def to_contract(row: WorkContract) -> Contract:
    return Contract(
        start_date=row.start_date,
        end_date=row.end_date,
        flex_enabled=row.flex_enabled,
        worktime_percent=row.worktime_percent,
    )


async def overlapping_contract(
    session: AsyncSession,
    user_guid: uuid.UUID,
    start: date,
    end: date,
    *,
    other_than: int | None = None,
) -> WorkContract | None:
    """A contract of the person that shares a day with [start, end], if any.

    Locks the person's row first, so two concurrent writes of their contracts take turns and
    cannot both pass this check; the lock lasts until the caller's transaction ends."""
    await session.execute(
        select(TenkfeetUser.guid).where(TenkfeetUser.guid == user_guid).with_for_update()
    )
    statement = select(WorkContract).where(
        WorkContract.user_guid == user_guid,
        WorkContract.start_date <= end,
        WorkContract.end_date >= start,
    )
    if other_than is not None:
        statement = statement.where(WorkContract.id != other_than)
    return (await session.execute(statement.limit(1))).scalar_one_or_none()


async def contracts_of(session: AsyncSession, user_guid: uuid.UUID) -> list[WorkContract]:
    rows = await session.execute(
        select(WorkContract)
        .where(WorkContract.user_guid == user_guid)
        .order_by(WorkContract.start_date)
    )
    return list(rows.scalars())


async def corrections_of(session: AsyncSession, user_guid: uuid.UUID) -> list[FlexTimeCorrection]:
    rows = await session.execute(
        select(FlexTimeCorrection)
        .where(FlexTimeCorrection.user_guid == user_guid)
        .order_by(FlexTimeCorrection.date, FlexTimeCorrection.id)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class PersonSaldo:
    """One person's saldo with KIKY (None when it cannot be computed: `problem` says why)."""

    guid: uuid.UUID
    email: str
    name: str
    saldo: float | None
    kiky_saldo: float | None = None
    problem: str = ""

    @property
    def band(self) -> str | None:
        """ "below" the band (red), "above" it (yellow), or None."""
        return None if self.saldo is None else saldo_band(self.saldo)


NO_CONTRACTS = "No work contracts: flex is not in use."


async def everyones_saldo(
    session: AsyncSession,
    today: date,
    *,
    flex_last_day: date | None = None,
    ignore_events: bool = False,
    include_inactive: bool = False,
) -> list[PersonSaldo]:
    """Every non-archived person's saldo, lowest first; those whose saldo cannot be computed
    last, each with the reason. People without a contract on the last day are left out (as the
    monthly notices leave them) unless `include_inactive`: then their saldo is computed too, and
    people without any contract are listed with that reason."""
    people: list[PersonSaldo] = []
    users = await session.execute(
        select(TenkfeetUser).where(TenkfeetUser.archived.is_(False)).order_by(TenkfeetUser.email)
    )
    for user in users.scalars():
        inputs = await load_flex_inputs(
            session, user, today=today, flex_last_day=flex_last_day, ignore_events=ignore_events
        )
        person = (user.guid, user.email, user.full_name)
        if not include_inactive and not is_active(inputs):
            continue
        if not inputs.contracts:
            people.append(PersonSaldo(*person, None, None, NO_CONTRACTS))
            continue
        try:
            result = calculate_flex_saldo(inputs)
        except FlexError as exc:
            people.append(PersonSaldo(*person, None, None, str(exc)))
            continue
        people.append(
            PersonSaldo(*person, round(result.cumulative_saldo, 2), round(result.kiky.saldo, 2))
        )
    return sorted(people, key=lambda p: (p.saldo is None, p.saldo or 0.0, p.email))
