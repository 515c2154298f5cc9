"""Writes of the directory syncs (users, projects and phases, leave types, holidays): upserts by
10000ft id that touch only rows that really changed, and record those changes in the history."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.tenkfeet_mapping import NO_CLIENT, LocalUser
from invoice_checker.store.directory import (
    LEAVE_PROJECT_GUID,
    LEAVE_PROJECT_NAME,
    Client,
    LeaveType,
    Phase,
    Project,
    ProjectAdmin,
    PublicHoliday,
    TenkfeetUser,
)
from invoice_checker.store.history import changed_fields, record_history_rows
from invoice_checker.store.hours import HourEntry
from service_kit.advisory_locks import AdvisoryLock

logger = logging.getLogger(__name__)


async def lock_directory(session: AsyncSession) -> None:
    """Serialise directory writes (transaction-scoped; they are small, so the wait is short)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": AdvisoryLock.DIRECTORY_SYNC}
    )


@dataclass
class UpsertCounts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    new_ids: list[str] = field(default_factory=list)


async def upsert_users(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> UpsertCounts:
    """Upsert users by guid, comparing every synced field (the original compared only
    updated_at, so a local difference was never repaired without --force, 15.17). A user whose
    e-mail or 10000ft id another user already has is skipped and logged."""
    await lock_directory(session)
    counts = UpsertCounts()
    existing = {user.guid: user for user in (await session.scalars(select(TenkfeetUser))).all()}
    owner_of_email = {user.email: user.guid for user in existing.values()}
    owner_of_id = {user.user_id: user.guid for user in existing.values()}
    history: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        guid = row["guid"]
        if (
            owner_of_email.get(row["email"], guid) != guid
            or owner_of_id.get(row["user_id"], guid) != guid
        ):
            logger.warning(
                "10000ft user skipped: e-mail or id already used by another user",
                extra={"guid": str(guid), "user_id": row["user_id"]},
            )
            counts.skipped += 1
            continue
        user = existing.get(guid)
        if user is None:
            session.add(TenkfeetUser(**row))
            counts.added += 1
            history.append((str(guid), {"created": True, **row}))
        else:
            changes = changed_fields(user, row)
            if not changes:
                counts.unchanged += 1
                continue
            owner_of_email.pop(user.email, None)
            owner_of_id.pop(user.user_id, None)
            for key, value in changes.items():
                setattr(user, key, value)
            counts.updated += 1
            history.append((str(guid), changes))
        owner_of_email[row["email"]] = guid
        owner_of_id[row["user_id"]] = guid
    await session.flush()
    await record_history_rows(session, TenkfeetUser.__tablename__, history)
    await attach_users_to_entries(session)
    return counts


async def users_not_listed(session: AsyncSession, listed: set[uuid.UUID]) -> list[str]:
    """E-mails of stored users missing from a full user list (deleted in 10000ft). An empty
    list is taken for a fault, not for everyone leaving."""
    if not listed:
        return []
    rows = await session.scalars(select(TenkfeetUser.email).where(TenkfeetUser.guid.not_in(listed)))
    return list(rows)


async def attach_users_to_entries(session: AsyncSession) -> int:
    """Give hour entries saved before their user was synced that user (spec 4.1 step 5)."""
    result = await session.execute(
        update(HourEntry)
        .where(HourEntry.user_guid.is_(None), HourEntry.user_id == TenkfeetUser.user_id)
        .values(
            user_guid=TenkfeetUser.guid,
            user_email=TenkfeetUser.email,
            user_name=TenkfeetUser.display_name,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def local_users(session: AsyncSession) -> dict[int, LocalUser]:
    rows = await session.execute(
        select(
            TenkfeetUser.user_id,
            TenkfeetUser.guid,
            TenkfeetUser.email,
            TenkfeetUser.display_name,
            TenkfeetUser.discipline,
            TenkfeetUser.role,
        )
    )
    return {
        user_id: LocalUser(guid, email, display_name, discipline, role)
        for user_id, guid, email, display_name, discipline, role in rows
    }


async def client_ids(session: AsyncSession, names: Iterable[str]) -> dict[str, int]:
    """Ids of clients by name, creating the missing ones."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    await session.execute(
        insert(Client).values([{"name": name} for name in wanted]).on_conflict_do_nothing()
    )
    rows = await session.execute(select(Client.name, Client.id).where(Client.name.in_(wanted)))
    return dict(rows.all())


async def ensure_leave_project(session: AsyncSession) -> uuid.UUID:
    """The project leave entries are invoiced under; created on first need (the original
    crashed when nobody had created it by hand)."""
    await lock_directory(session)
    client_id = (await client_ids(session, [NO_CLIENT]))[NO_CLIENT]
    await session.execute(
        insert(Project)
        .values(
            guid=LEAVE_PROJECT_GUID, is_leave=True, name=LEAVE_PROJECT_NAME, client_id=client_id
        )
        .on_conflict_do_nothing()
    )
    # The insert above guarantees a leave project.
    return (await session.execute(select(Project.guid).where(Project.is_leave))).scalar_one()


async def project_guids(session: AsyncSession) -> dict[int, uuid.UUID]:
    rows = await session.execute(
        select(Project.project_id, Project.guid).where(Project.project_id.is_not(None))
    )
    return {project_id: guid for project_id, guid in rows if project_id is not None}


async def upsert_projects(
    session: AsyncSession,
    rows: Sequence[Mapping[str, Any]],
    tags: Mapping[uuid.UUID, Sequence[tuple[str, str]]],
) -> UpsertCounts:
    """Upsert parent projects by guid and set each one's admins to the union of the non-archived
    users its tags name (the original kept only the last tag's users and left untagged projects'
    admins stale, 15.7)."""
    await lock_directory(session)
    counts = UpsertCounts()
    clients = await client_ids(session, (row["client"] for row in rows))
    wanted = [row["guid"] for row in rows]
    existing = {
        project.guid: project
        for project in (
            await session.scalars(select(Project).where(Project.guid.in_(wanted)))
        ).all()
    }
    history: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        values = {key: value for key, value in row.items() if key != "client"}
        values["client_id"] = clients[row["client"]]
        project = existing.get(row["guid"])
        if project is None:
            session.add(Project(**values))
            counts.added += 1
            counts.new_ids.append(str(row["guid"]))
            history.append((str(row["guid"]), {"created": True, **row}))
            continue
        changes = changed_fields(project, values)
        if changes:
            for key, value in changes.items():
                setattr(project, key, value)
            counts.updated += 1
            history.append((str(row["guid"]), changes))
        else:
            counts.unchanged += 1
    await session.flush()
    admin_changes = await _set_project_admins(session, tags)
    for guid, admins in admin_changes.items():
        history.append((str(guid), {"admin_users": admins}))
    await record_history_rows(session, Project.__tablename__, history)
    return counts


async def _set_project_admins(
    session: AsyncSession, tags: Mapping[uuid.UUID, Sequence[tuple[str, str]]]
) -> dict[uuid.UUID, list[str]]:
    """Replace each project's admins; returns the new admin e-mails of projects that changed."""
    users = (
        await session.execute(
            select(TenkfeetUser.first_name, TenkfeetUser.last_name, TenkfeetUser.guid).where(
                TenkfeetUser.archived.is_(False)
            )
        )
    ).all()
    by_name: dict[tuple[str | None, str | None], set[uuid.UUID]] = {}
    for first, last, guid in users:
        by_name.setdefault((first, last), set()).add(guid)
    current: dict[uuid.UUID, set[uuid.UUID]] = {}
    for project_guid, user_guid in await session.execute(
        select(ProjectAdmin.project_guid, ProjectAdmin.user_guid).where(
            ProjectAdmin.project_guid.in_(list(tags))
        )
    ):
        current.setdefault(project_guid, set()).add(user_guid)
    changed: dict[uuid.UUID, set[uuid.UUID]] = {}
    for project_guid, names in tags.items():
        admins = set().union(*(by_name.get(name, set()) for name in names))
        if admins != current.get(project_guid, set()):
            changed[project_guid] = admins
    if not changed:
        return {}
    await session.execute(delete(ProjectAdmin).where(ProjectAdmin.project_guid.in_(list(changed))))
    links = [
        {"project_guid": project, "user_guid": user}
        for project, admins in changed.items()
        for user in admins
    ]
    if links:
        await session.execute(insert(ProjectAdmin), links)
    emails = dict((await session.execute(select(TenkfeetUser.guid, TenkfeetUser.email))).all())
    return {project: sorted(emails[user] for user in admins) for project, admins in changed.items()}


async def upsert_phases(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Upsert phases under their (already synced) parents; phases of unknown parents wait."""
    await lock_directory(session)
    parents = await project_guids(session)
    values = [
        {
            "id": row["id"],
            "guid": row["guid"],
            "project_guid": parents[row["parent_id"]],
            "phase_name": row["phase_name"],
            "archived": row["archived"],
            "starts_at": row["starts_at"],
            "ends_at": row["ends_at"],
        }
        for row in rows
        if row["parent_id"] in parents
    ]
    if not values:
        return 0
    statement = insert(Phase)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Phase.id],
            set_={
                name: statement.excluded[name]
                for name in (
                    "guid",
                    "project_guid",
                    "phase_name",
                    "archived",
                    "starts_at",
                    "ends_at",
                )
            },
        ),
        values,
    )
    return len(values)


async def upsert_leave_types(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> UpsertCounts:
    await lock_directory(session)
    counts = UpsertCounts()
    existing = {row.id: row for row in (await session.scalars(select(LeaveType))).all()}
    for row in rows:
        leave_type = existing.get(row["id"])
        if leave_type is None:
            session.add(LeaveType(**row))
            counts.added += 1
        elif changes := changed_fields(leave_type, row):
            for key, value in changes.items():
                setattr(leave_type, key, value)
            counts.updated += 1
        else:
            counts.unchanged += 1
    await session.flush()
    return counts


async def leave_type_names(session: AsyncSession) -> dict[int, str]:
    return dict((await session.execute(select(LeaveType.id, LeaveType.name))).all())


async def replace_holidays(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> UpsertCounts:
    """Holidays keyed by date (spec 5.1): add new, update changed, delete those 10000ft dropped."""
    await lock_directory(session)
    counts = UpsertCounts()
    existing = {row.date: row for row in (await session.scalars(select(PublicHoliday))).all()}
    seen = set()
    for row in rows:
        if row["date"] in seen:
            continue  # two holidays on one date: the first wins, as keyed by date
        seen.add(row["date"])
        holiday = existing.get(row["date"])
        if holiday is None:
            session.add(PublicHoliday(**row))
            counts.added += 1
        elif changes := changed_fields(holiday, row):
            for key, value in changes.items():
                setattr(holiday, key, value)
            counts.updated += 1
        else:
            counts.unchanged += 1
    gone = [day for day in existing if day not in seen]
    if gone:
        await session.execute(delete(PublicHoliday).where(PublicHoliday.date.in_(gone)))
    counts.deleted = len(gone)
    await session.flush()
    return counts
