"""Slack channels (synced) and the record of notification batches already sent."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.invoice_state import InvoiceState
from invoice_checker.domain.slack_messages import (
    InvoiceCard,
    NewProject,
    ProjectCard,
    UnapprovedProject,
    UnsubmittedEntry,
)
from invoice_checker.store.base import Base
from invoice_checker.store.directory import Client, Project, ProjectAdmin, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice

# Notification kinds; each is sent at most once per period (see SlackNotificationBundle).
UNSUBMITTED = "unsubmitted"
UNAPPROVED = "unapproved"
FLEX_SALDO = "flex_saldo"
CONTRACT_CHECK = "contract_check"
NEW_PROJECTS = "new_projects"


class SlackChannel(Base):
    __tablename__ = "slack_channels"

    channel_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    archived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Set by an admin: the channel gets a message when a new project appears.
    new_project_notification: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class SlackProjectAnnouncement(Base):
    """A new project already announced on Slack; each is announced once."""

    __tablename__ = "slack_project_announcements"

    project_guid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.guid", ondelete="CASCADE"), primary_key=True
    )
    announced_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SlackNotificationBundle(Base):
    """One batch of notifications, its messages in the outbox (store/slack_outbox.py). Unique per
    kind and period unless forced, so a scheduled batch that runs twice (two workers, a retry)
    is planned once: the second insert waits for the first and skips."""

    __tablename__ = "slack_notification_bundles"
    __table_args__ = (
        Index(
            "uq_slack_notification_bundles_once",
            "notification_type",
            "period",
            unique=True,
            postgresql_where=text("NOT forced"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notification_type: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(40))  # e.g. "2018-02-05..2018-04-01" or "2018-03"
    messages: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # sent so far
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Sent again on request (`jobs run --force`), beside the scheduled batch of the period.
    forced: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


async def link_slack_ids(session: AsyncSession, members: Sequence[Mapping[str, Any]]) -> int:
    """Set each person's Slack id from the member with the same e-mail (any case)."""
    ids = {
        str(profile["email"]).lower(): str(member["id"])
        for member in members
        if not member.get("deleted")
        and isinstance(profile := member.get("profile"), Mapping)
        and profile.get("email")
    }
    if not ids:
        return 0
    emails = list(ids)
    result = await session.execute(
        update(TenkfeetUser)
        .where(func.lower(TenkfeetUser.email).in_(emails))
        .values(slack_id=case(ids, value=func.lower(TenkfeetUser.email)))
        .where(
            TenkfeetUser.slack_id.is_distinct_from(case(ids, value=func.lower(TenkfeetUser.email)))
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def upsert_channels(session: AsyncSession, channels: Sequence[Mapping[str, Any]]) -> int:
    values = [
        {
            "channel_id": str(c["id"]),
            "name": str(c.get("name") or ""),
            "archived": bool(c.get("is_archived")),
        }
        for c in channels
        if c.get("id")
    ]
    if not values:
        return 0
    statement = insert(SlackChannel).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SlackChannel.channel_id],
            set_={"name": statement.excluded.name, "archived": statement.excluded.archived},
        )
    )
    return len(values)


async def claim_bundle(
    session: AsyncSession, kind: str, period: str, *, force: bool = False
) -> int | None:
    """The new batch's id for the first claim of this kind and period, else None. A concurrent
    second claim waits for the first transaction and then gets None, so a batch is planned once
    even with two workers. A forced claim always makes a new batch."""
    statement = insert(SlackNotificationBundle).values(
        notification_type=kind, period=period, forced=force
    )
    if not force:
        statement = statement.on_conflict_do_nothing(
            index_elements=[
                SlackNotificationBundle.notification_type,
                SlackNotificationBundle.period,
            ],
            index_where=text("NOT forced"),
        )
    result = await session.execute(statement.returning(SlackNotificationBundle.id))
    return result.scalar_one_or_none()


async def claimed_bundle(session: AsyncSession, kind: str, period: str) -> int | None:
    """The scheduled batch of this kind and period, if it was claimed."""
    result = await session.execute(
        select(SlackNotificationBundle.id).where(
            SlackNotificationBundle.notification_type == kind,
            SlackNotificationBundle.period == period,
            SlackNotificationBundle.forced.is_(False),
        )
    )
    return result.scalar_one_or_none()


@dataclass(frozen=True)
class Person:
    guid: uuid.UUID
    name: str
    email: str
    slack_id: str | None


async def unsubmitted_by_person(
    session: AsyncSession, first: date, last: date
) -> list[tuple[Person, list[UnsubmittedEntry]]]:
    """People with unsubmitted entries in [first, last]; entries of archived projects left out
    of the listing but the person is still reminded if any remain."""
    rows = await session.execute(
        select(
            TenkfeetUser.guid,
            TenkfeetUser.first_name,
            TenkfeetUser.last_name,
            TenkfeetUser.email,
            TenkfeetUser.slack_id,
            HourEntry.date,
            Project.guid.label("project_guid"),
            HourEntry.client,
            HourEntry.project,
            HourEntry.category,
            HourEntry.phase_name,
            HourEntry.incurred_hours,
            HourEntry.notes,
        )
        .join(HourEntry, HourEntry.user_guid == TenkfeetUser.guid)
        .join(Invoice, Invoice.id == HourEntry.invoice_id)
        .join(Project, Project.guid == Invoice.project_guid)
        .where(
            HourEntry.status == EntryStatus.UNSUBMITTED,
            HourEntry.date.between(first, last),
            HourEntry.incurred_hours > 0,
            Project.archived.is_(False),
        )
        .order_by(TenkfeetUser.email, HourEntry.date, HourEntry.id)
    )
    people: dict[uuid.UUID, tuple[Person, list[UnsubmittedEntry]]] = {}
    for row in rows:
        if row.guid not in people:
            name = f"{row.first_name} {row.last_name}"
            people[row.guid] = (Person(row.guid, name, row.email, row.slack_id), [])
        people[row.guid][1].append(
            UnsubmittedEntry(
                date=row.date,
                project_guid=str(row.project_guid),
                client=row.client,
                project=row.project,
                category=row.category,
                phase=row.phase_name,
                hours=row.incurred_hours,
                notes=row.notes or "",
            )
        )
    return list(people.values())


async def unapproved_projects(
    session: AsyncSession, first: date, last: date
) -> list[tuple[UnapprovedProject, list[str]]]:
    """Projects with entries waiting for approval in [first, last] (status Pending Approval:
    the original asked the never-false `approved` flag, so it never sent anything, 15.1), each
    with the Slack ids of its leads."""
    totals = await session.execute(
        select(
            Project.guid,
            Project.project_id,
            Project.name,
            Client.name.label("client"),
            func.count(HourEntry.id).label("entries"),
            func.sum(HourEntry.incurred_hours).label("hours"),
            func.sum(HourEntry.incurred_money).label("money"),
        )
        .join(Invoice, Invoice.id == HourEntry.invoice_id)
        .join(Project, Project.guid == Invoice.project_guid)
        .join(Client, Client.id == Project.client_id)
        .where(
            HourEntry.status == EntryStatus.PENDING_APPROVAL, HourEntry.date.between(first, last)
        )
        .group_by(Project.guid, Client.name)
        .order_by(Client.name, Project.name)
    )
    projects = [
        UnapprovedProject(
            project_guid=str(row.guid),
            project_id=row.project_id,
            client=row.client,
            name=row.name,
            entries=row.entries,
            hours=float(row.hours or 0),
            money=float(row.money or 0),
        )
        for row in totals
    ]
    leads = await session.execute(
        select(ProjectAdmin.project_guid, TenkfeetUser.slack_id)
        .join(TenkfeetUser, TenkfeetUser.guid == ProjectAdmin.user_guid)
        .where(
            ProjectAdmin.project_guid.in_([uuid.UUID(p.project_guid) for p in projects]),
            TenkfeetUser.slack_id.is_not(None),
        )
        .order_by(TenkfeetUser.slack_id)
    )
    slack_ids: dict[str, list[str]] = {}
    for row in leads:
        slack_ids.setdefault(str(row.project_guid), []).append(row.slack_id)
    return [(project, slack_ids.get(project.project_guid, [])) for project in projects]


async def person_by_slack_id(session: AsyncSession, slack_id: str) -> TenkfeetUser | None:
    result = await session.execute(
        select(TenkfeetUser).where(TenkfeetUser.slack_id == slack_id).limit(1)
    )
    return result.scalar_one_or_none()


async def _leads(session: AsyncSession, project_guid: uuid.UUID) -> list[str]:
    rows = await session.execute(
        select(TenkfeetUser.first_name, TenkfeetUser.last_name)
        .join(ProjectAdmin, ProjectAdmin.user_guid == TenkfeetUser.guid)
        .where(ProjectAdmin.project_guid == project_guid)
        .order_by(TenkfeetUser.first_name, TenkfeetUser.last_name)
    )
    return [f"{first} {last}" for first, last in rows]


def _card(invoice: Invoice, client: str, project: str, leads: Sequence[str]) -> InvoiceCard:
    return InvoiceCard(
        invoice_id=str(invoice.id),
        client=client,
        project=project,
        month=invoice.date,
        state_label=InvoiceState(invoice.invoice_state).label,
        leads=leads,
        incurred_hours=invoice.incurred_hours,
        incurred_money=invoice.incurred_money,
        incorrect_entries=invoice.incorrect_entries_count,
    )


async def _project_and_client(
    session: AsyncSession, project_guid: uuid.UUID
) -> tuple[Project, str] | None:
    row = (
        await session.execute(
            select(Project, Client.name)
            .join(Client, Client.id == Project.client_id)
            .where(Project.guid == project_guid)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def invoice_card(session: AsyncSession, invoice_id: uuid.UUID) -> InvoiceCard | None:
    invoice = await session.get(Invoice, invoice_id)
    found = None if invoice is None else await _project_and_client(session, invoice.project_guid)
    if invoice is None or found is None:
        return None
    project, client = found
    return _card(invoice, client, project.name, await _leads(session, project.guid))


async def project_card(session: AsyncSession, project_guid: uuid.UUID) -> ProjectCard | None:
    found = await _project_and_client(session, project_guid)
    if found is None:
        return None
    project, client = found
    leads = await _leads(session, project_guid)
    invoices = await session.execute(
        select(Invoice)
        .where(
            Invoice.project_guid == project_guid,
            (Invoice.incurred_hours > 0) | (Invoice.incurred_money != 0),
        )
        .order_by(Invoice.date.desc())
    )
    return ProjectCard(
        client=client,
        name=project.name,
        description=project.description or "",
        starts_at=project.starts_at,
        ends_at=project.ends_at,
        state=project.project_state or "",
        invoices=[_card(i, client, project.name, leads) for i in invoices.scalars()],
    )


async def claim_new_projects(session: AsyncSession, since: datetime) -> list[NewProject]:
    """Projects created in 10000ft since `since` and not announced yet, oldest first, marked
    announced in the caller's transaction (which also writes their messages to the outbox)."""
    rows = (
        await session.execute(
            select(Project.guid, Project.project_id, Project.name, Project.created_at, Client.name)
            .join(Client, Client.id == Project.client_id)
            .outerjoin(
                SlackProjectAnnouncement, SlackProjectAnnouncement.project_guid == Project.guid
            )
            .where(
                Project.created_at >= since,
                Project.is_leave.is_(False),
                SlackProjectAnnouncement.project_guid.is_(None),
            )
            .order_by(Project.created_at, Project.project_id)
        )
    ).all()
    if not rows:
        return []
    # Only those this transaction marked: a concurrent run that marked one first announces it.
    marked = set(
        (
            await session.execute(
                insert(SlackProjectAnnouncement)
                .values([{"project_guid": row[0]} for row in rows])
                .on_conflict_do_nothing()
                .returning(SlackProjectAnnouncement.project_guid)
            )
        ).scalars()
    )
    return [
        NewProject(project_id=row[1], client=row[4], name=row[2], created_at=row[3])
        for row in rows
        if row[0] in marked
    ]


async def new_project_channels(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(SlackChannel.channel_id).where(
            SlackChannel.new_project_notification.is_(True), SlackChannel.archived.is_(False)
        )
    )
    return list(rows.scalars())


async def bundles_of_periods(
    session: AsyncSession, periods: Mapping[str, str]
) -> list[SlackNotificationBundle]:
    """The batches (scheduled and forced) of each kind's given period, newest first."""
    if not periods:
        return []
    chosen = [
        (SlackNotificationBundle.notification_type == kind)
        & (SlackNotificationBundle.period == period)
        for kind, period in periods.items()
    ]
    statement = (
        select(SlackNotificationBundle)
        .where(or_(*chosen))
        .order_by(SlackNotificationBundle.id.desc())
    )
    return list(await session.scalars(statement))
