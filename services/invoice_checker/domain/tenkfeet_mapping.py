"""Pure mapping of 10000ft API records to our rows (spec 3.3, 4.1-4.4). No I/O here.

Validation is lenient (spec 13/14): unknown keys are ignored, numbers may be int or float, and
optional values may be null. A record that cannot be read raises `InvalidRecord`, which the sync
counts and skips instead of aborting the run.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.hour_flags import (
    LEAVE_PROJECT_NAME,
    NO_PHASE,
    PhaseFlags,
    entry_flags,
    is_phase_billable,
    phase_flags,
)

Record = Mapping[str, Any]
Day = date  # for classes with a field named `date`

NO_CLIENT = "[none]"  # one spelling for "no client" everywhere (the original also used "none")
NO_VALUE = "[none]"
PROJECT_ENTRY = "[project]"
UNKNOWN_LEAVE_TYPE = "[unknown leave type]"
# Stored in place of a day's digest when an entry of that day could not be mapped, so the next
# sync processes the day again instead of skipping it as unchanged.
RETRY_DIGEST = "-" * 64


class InvalidRecord(ValueError):
    """A 10000ft record we cannot read; the message says which field and why."""


# --- lenient readers -------------------------------------------------------------------------


def _text(record: Record, key: str) -> str | None:
    value = record.get(key)
    return None if value is None else str(value)


def _flag(record: Record, key: str, default: bool = False) -> bool:
    value = record.get(key)
    return default if value is None else bool(value)


def _number(record: Record, key: str) -> float:
    """A float from int, float or numeric text; null counts as 0 (as the original did)."""
    value = record.get(key)
    if type(value) is float or type(value) is int:
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, bool):
        raise InvalidRecord(f"{key}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidRecord(f"{key}: expected a number, got {value!r}") from None


def _optional_number(record: Record, key: str) -> float | None:
    return None if record.get(key) is None else _number(record, key)


def _integer(record: Record, key: str) -> int:
    value = record.get(key)
    if type(value) is int:  # the common case first; bool is a subclass of int, not this
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise InvalidRecord(f"{key}: expected an integer, got {value!r}")


def _optional_integer(record: Record, key: str) -> int | None:
    return None if record.get(key) is None else _integer(record, key)


def _day(record: Record, key: str) -> date | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidRecord(f"{key}: expected YYYY-MM-DD, got {value!r}") from None


def _moment(record: Record, key: str) -> datetime | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidRecord(f"{key}: expected an ISO 8601 time, got {value!r}") from None


def _guid(record: Record, key: str = "guid") -> uuid.UUID:
    try:
        return uuid.UUID(str(record.get(key)))
    except ValueError:
        raise InvalidRecord(f"{key}: expected a UUID, got {record.get(key)!r}") from None


def _collection(record: Record, key: str) -> list[Record]:
    """The `data` list of a nested collection ({"data": [...], "paging": {...}}), or []."""
    nested = record.get(key)
    if isinstance(nested, Mapping):
        data = nested.get("data")
        return (
            [item for item in data if isinstance(item, Mapping)] if isinstance(data, list) else []
        )
    return []


# --- users, projects, phases, leave types, holidays ---------------------------------------------


def user_row(record: Record) -> dict[str, Any] | None:
    """The columns of a 10000ft user, or None for a user without an e-mail (skipped, spec 4.1)."""
    email = _text(record, "email")
    if not email:
        return None
    return {
        "guid": _guid(record),
        "user_id": _integer(record, "id"),
        "first_name": _text(record, "first_name"),
        "last_name": _text(record, "last_name"),
        "display_name": _text(record, "display_name"),
        "email": email.lower(),
        "archived": _flag(record, "archived"),
        "billable": _flag(record, "billable", default=True),
        "hire_date": _day(record, "hire_date"),
        "termination_date": _day(record, "termination_date"),
        "mobile_phone": _text(record, "mobile_phone"),
        "invitation_pending": _flag(record, "invitation_pending"),
        "billability_target": _optional_number(record, "billability_target"),
        "created_at": _moment(record, "created_at"),
        "updated_at": _moment(record, "updated_at"),
        "archived_at": _moment(record, "archived_at"),
        "thumbnail": _text(record, "thumbnail"),
        "role": _text(record, "role"),
        "discipline": _text(record, "discipline"),
    }


def listed_guids(records: Iterable[Record]) -> set[uuid.UUID]:
    """The guids of the records, readable or not (a record skipped for a bad field is still
    listed: its person has not left)."""
    guids = set()
    for record in records:
        with suppress(InvalidRecord):
            guids.add(_guid(record))
    return guids


def departed_emails(records: Iterable[Record]) -> set[str]:
    """E-mails of the users 10000ft lists as archived or deleted."""
    return {
        email.lower()
        for record in records
        if (_flag(record, "archived") or _flag(record, "deleted"))
        and (email := _text(record, "email"))
    }


def client_name(record: Record) -> str:
    return _text(record, "client") or NO_CLIENT


def project_row(record: Record) -> dict[str, Any]:
    """The columns of a parent project; `client` is the client's name (created on demand)."""
    return {
        "guid": _guid(record),
        "project_id": _integer(record, "id"),
        "name": _text(record, "name") or "",
        "client": client_name(record),
        "project_state": _text(record, "project_state"),
        "parent_id": _optional_integer(record, "parent_id"),
        "phase_name": _text(record, "phase_name"),
        "archived": _flag(record, "archived"),
        "created_at": _moment(record, "created_at"),
        "updated_at": _moment(record, "updated_at"),
        "archived_at": _moment(record, "archived_at"),
        "description": _text(record, "description"),
        "starts_at": _day(record, "starts_at"),
        "ends_at": _day(record, "ends_at"),
        "thumbnail_url": _text(record, "thumbnail"),
    }


def phase_row(record: Record) -> dict[str, Any]:
    return {
        "id": _integer(record, "id"),
        "guid": _guid(record) if record.get("guid") else None,
        "parent_id": _integer(record, "parent_id"),
        "phase_name": _text(record, "phase_name"),
        "archived": _flag(record, "archived"),
        "starts_at": _day(record, "starts_at"),
        "ends_at": _day(record, "ends_at"),
    }


def is_phase(record: Record) -> bool:
    return record.get("parent_id") is not None


def tag_names(record: Record) -> list[tuple[str, str]]:
    """(first name, last name) of each project tag; a tag is split at its first space and a tag
    without a space names nobody (spec 4.2)."""
    names = []
    for tag in _collection(record, "tags"):
        first, space, last = str(tag.get("value") or "").partition(" ")
        if space:
            names.append((first, last))
    return names


def leave_type_row(record: Record) -> dict[str, Any]:
    return {
        "id": _integer(record, "id"),
        "name": _text(record, "name") or "",
        "description": _text(record, "description"),
        "guid": _guid(record) if record.get("guid") else None,
        "deleted_at": _moment(record, "deleted_at"),
        "updated_at": _moment(record, "updated_at"),
    }


def holiday_row(record: Record) -> dict[str, Any]:
    day = _day(record, "date")
    if day is None:
        raise InvalidRecord("date: missing")
    return {
        "date": day,
        "name": (_text(record, "name") or "")[:100],
        "upstream_id": _optional_integer(record, "id"),
        "created_at": _moment(record, "created_at"),
        "updated_at": _moment(record, "updated_at"),
    }


# --- time entries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignable:
    """What a time entry's `assignable_id` names: a parent project, or one of its phases."""

    project_id: int
    project_name: str
    client: str
    phase_name: str  # NO_PHASE when booked on the project itself
    flags: PhaseFlags  # computed once here rather than once per entry
    legacy_billable: bool

    @classmethod
    def of(cls, project_id: int, project_name: str, client: str, phase_name: str) -> Assignable:
        return cls(
            project_id,
            project_name,
            client,
            phase_name,
            phase_flags(phase_name, project_name),
            is_phase_billable("", project_name),  # the legacy column: project name alone
        )


def assignables(records: Iterable[Record]) -> dict[int, Assignable]:
    """Map every project and phase id to its parent project (spec 4.3); unreadable records are
    left out, so entries on them count as entries on an unknown project."""
    by_id: dict[int, Record] = {}
    for record in records:
        with suppress(InvalidRecord):
            by_id[_integer(record, "id")] = record
    mapped: dict[int, Assignable] = {}
    for assignable_id, record in by_id.items():
        with suppress(InvalidRecord):
            mapped[assignable_id] = _assignable(record, by_id)
    return mapped


def _assignable(record: Record, by_id: Mapping[int, Record]) -> Assignable:
    phase = is_phase(record)
    parent = by_id.get(_integer(record, "parent_id")) if phase else None
    project = parent if parent is not None else record
    return Assignable.of(
        _integer(project, "id"),
        _text(project, "name") or "",
        client_name(project),
        (_text(record, "phase_name") or NO_PHASE) if phase else NO_PHASE,
    )


@dataclass(frozen=True, slots=True)
class LocalUser:
    """The synced 10000ft user an entry is attributed to."""

    guid: uuid.UUID
    email: str
    display_name: str | None
    discipline: str | None
    role: str | None


class HourRow(NamedTuple):
    """One hour entry ready to be written; field names are the staging table's columns."""

    upstream_id: int
    date: Day
    project_guid: uuid.UUID
    invoice_month: Day
    user_guid: uuid.UUID | None
    user_id: int
    user_email: str | None
    user_name: str | None
    client: str
    project: str
    incurred_hours: float
    incurred_money: float
    bill_rate: float
    category: str
    notes: str | None
    entry_type: str
    discipline: str
    role: str
    leave_type: str
    phase_name: str
    billable: bool
    approved: bool
    status: str
    assignable_id: int | None
    approved_at: Day | None
    approved_by: str | None
    submitted_by: str | None
    upstream_approvable_id: int | None
    upstream_approvable_updated_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    calculated_is_billable: bool
    calculated_has_notes: bool
    calculated_has_phase: bool
    calculated_is_approved: bool
    calculated_has_proper_price: bool
    calculated_has_category: bool
    calculated_is_overtime: bool


def entry_status(approval: Record | None) -> EntryStatus:
    """The approval's presence and approved_at decide; its `status` string is not read."""
    if not approval:
        return EntryStatus.UNSUBMITTED
    return EntryStatus.APPROVED if approval.get("approved_at") else EntryStatus.PENDING_APPROVAL


def counts_as_hours(entry: Record) -> bool:
    """Entries with 0 or null hours are dropped before anything else (spec 4.5)."""
    hours = entry.get("hours")
    return bool(hours) and not isinstance(hours, bool)


def entry_date(entry: Record) -> date:
    day = _day(entry, "date")
    if day is None:
        raise InvalidRecord("date: missing")
    return day


def _as_id_text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class MappingContext:
    """Everything `hour_row` looks up: local users and projects, assignables, leave types."""

    users: Mapping[int, LocalUser]
    project_guids: Mapping[int, uuid.UUID]
    leave_project_guid: uuid.UUID
    assignables: Mapping[int, Assignable]
    leave_types: Mapping[int, str]


class MissingProject(InvalidRecord):
    """The entry's project is not known locally nor among the assignables."""


def _first_approval(entry: Record) -> Record | None:
    """The entry's approval (10000ft lists at most one), without building the whole list."""
    approvals = entry.get("approvals")
    data = approvals.get("data") if isinstance(approvals, Mapping) else None
    first = data[0] if isinstance(data, list) and data else None
    return first if isinstance(first, Mapping) else None


# Where every leave entry is booked: the leave project, no client, no phase.
LEAVE = Assignable.of(0, LEAVE_PROJECT_NAME, NO_CLIENT, NO_PHASE)


def hour_row(entry: Record, context: MappingContext) -> HourRow:
    """Map one 10000ft time entry to an hour entry row (spec 4.4, quirks kept).

    A missing local user gives a row without user (the caller syncs users first); a project we
    cannot place raises `MissingProject`. Runs a million times per big sync, so it avoids
    repeated work: flags that depend on the phase are computed once per phase.
    """
    day = entry_date(entry)
    if not 2000 < day.year < 2050:
        raise InvalidRecord(f"date: {day} is outside 2001..2049")
    hours = _number(entry, "hours")
    bill_rate = _number(entry, "bill_rate")
    if hours < 0 or bill_rate < 0:
        raise InvalidRecord("hours and bill_rate must not be negative")
    assignable_id = _optional_integer(entry, "assignable_id")
    if entry.get("assignable_type", "Project") == "Project":
        assignable = context.assignables.get(assignable_id) if assignable_id is not None else None
        if assignable is None:
            raise MissingProject(f"assignable {assignable_id} is not a known project or phase")
        project_guid = context.project_guids.get(assignable.project_id)
        if project_guid is None:
            raise MissingProject(f"project {assignable.project_id} is not synced")
        leave_type = PROJECT_ENTRY
    else:
        assignable, project_guid = LEAVE, context.leave_project_guid
        leave_type = context.leave_types.get(assignable_id or 0, UNKNOWN_LEAVE_TYPE)
        bill_rate = 0.0  # leaves are never money
    approval = _first_approval(entry)
    user_id = _integer(entry, "user_id")
    user = context.users.get(user_id)
    category = _text(entry, "task") or NO_VALUE
    notes = _text(entry, "notes")
    phase = assignable.flags
    own = entry_flags(notes, category, bill_rate)
    approved_at = _moment(approval, "approved_at") if approval else None
    # The original compared the approval dict with None, so `approved` is always True (15.1).
    approved = True
    return HourRow(
        _integer(entry, "id"),
        day,
        project_guid,
        day.replace(day=1),
        user.guid if user else None,
        user_id,
        user.email if user else None,
        user.display_name if user else None,
        assignable.client[:200],
        assignable.project_name[:200],
        hours,
        bill_rate * hours,
        bill_rate,
        category[:100],
        notes[:1000] if notes is not None else None,
        "Suggestion" if _flag(entry, "is_suggestion") else "Confirmed",
        ((user.discipline if user else None) or NO_VALUE)[:100],
        ((user.role if user else None) or NO_VALUE)[:100],
        leave_type[:100],
        assignable.phase_name[:100],
        assignable.legacy_billable,
        approved,
        entry_status(approval),
        assignable_id,
        approved_at.date() if approved_at else None,
        _as_id_text(approval.get("approved_by")) if approval else None,
        _as_id_text(approval.get("submitted_by")) if approval else None,
        _optional_integer(approval, "id") if approval else None,
        _moment(approval, "updated_at") if approval else None,
        _moment(entry, "created_at"),
        _moment(entry, "updated_at"),
        phase.is_billable,
        own.has_notes,
        phase.has_phase,
        approved,
        own.has_proper_price,
        own.has_category,
        phase.is_overtime,
    )


def day_digest(pages: Sequence[bytes]) -> str:
    """SHA-256 over the pages of one day's time entries exactly as 10000ft sent them (approvals
    included). Any change upstream, even an approval, changes it; equal digests mean nothing
    changed, so an unchanged day is skipped without even decoding it."""
    digest = hashlib.sha256()
    for page in pages:
        digest.update(len(page).to_bytes(8, "big"))
        digest.update(page)
    return digest.hexdigest()
