"""What 10000ft tells us about people and work: clients, users, projects, phases, leave types,
public holidays. Rows are keyed by 10000ft's own ids so every sync is an upsert."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from invoice_checker.store.base import Base

# The project every leave entry is invoiced under (the original's hand-made "[Leave Type]" row).
LEAVE_PROJECT_GUID = uuid.UUID("00000000-0000-0000-0000-00000000ea7e")
LEAVE_PROJECT_NAME = "[Leave Type]"
# Text used for "no client", in Client.name and HourEntry.client alike (the original had two).
NO_CLIENT = "[none]"


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class TenkfeetUser(Base):
    """A 10000ft user. Versioned: changes go to the history table."""

    __tablename__ = "tenkfeet_users"

    guid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    display_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(100), unique=True)  # stored lower-cased
    archived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    billable: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    hire_date: Mapped[date | None] = mapped_column(Date)
    termination_date: Mapped[date | None] = mapped_column(Date)
    mobile_phone: Mapped[str | None] = mapped_column(String(100))
    invitation_pending: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    billability_target: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    thumbnail: Mapped[str | None] = mapped_column(String(1000))
    slack_id: Mapped[str | None] = mapped_column(String(50))
    role: Mapped[str | None] = mapped_column(String(1000))
    discipline: Mapped[str | None] = mapped_column(String(1000))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Project(Base):
    """A 10000ft parent project (phases are in `phases`). Versioned."""

    __tablename__ = "projects"
    __table_args__ = (
        # At most one leave project.
        Index("uq_projects_is_leave", "is_leave", unique=True, postgresql_where=text("is_leave")),
    )

    guid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # 10000ft's numeric id; null only for the leave project, which 10000ft does not have.
    project_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    is_leave: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    name: Mapped[str] = mapped_column(String(1000))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    project_state: Mapped[str | None] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(Integer)
    phase_name: Mapped[str | None] = mapped_column(String(1000))
    archived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[date | None] = mapped_column(Date)
    ends_at: Mapped[date | None] = mapped_column(Date)
    thumbnail_url: Mapped[str | None] = mapped_column(String(1024))

    client: Mapped[Client] = relationship(lazy="joined", innerjoin=True)


class ProjectAdmin(Base):
    """A project lead: the 10000ft user a project tag names (admin_users of the original)."""

    __tablename__ = "project_admins"

    project_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.guid", ondelete="CASCADE"), primary_key=True
    )
    user_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenkfeet_users.guid", ondelete="CASCADE"), primary_key=True, index=True
    )


class Phase(Base):
    """A 10000ft phase: a child project. Hours booked on it are invoiced under its parent."""

    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 10000ft id
    guid: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    project_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.guid", ondelete="CASCADE"), index=True
    )
    phase_name: Mapped[str | None] = mapped_column(String(1000))
    archived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    starts_at: Mapped[date | None] = mapped_column(Date)
    ends_at: Mapped[date | None] = mapped_column(Date)


class LeaveType(Base):
    __tablename__ = "leave_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 10000ft id
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    guid: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PublicHoliday(Base):
    """A company-wide public holiday from 10000ft, one per date."""

    __tablename__ = "public_holidays"

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    upstream_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
