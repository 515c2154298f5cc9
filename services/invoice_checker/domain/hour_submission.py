"""Submitting one's hours to 10000ft for approval (spec 4.9): which entries may go, and what
became of each. Pure rules; the store loads the entries and the adapter talks to 10000ft."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from invoice_checker.domain.entry_status import EntryStatus

# 10000ft locks older entries; the original did not offer them (can_submit_automatically).
SUBMIT_WINDOW = timedelta(days=60)
# A sync after submitting covers the submitted dates when they are this close together.
MAX_FOLLOW_UP_SYNC = timedelta(days=180)

Outcome = Literal["submitted", "refused"]

NOT_FOUND = "No unsubmitted entry of yours has this id."
ALREADY_SUBMITTED = "Already submitted ({status})."
ARCHIVED_PROJECT = "The project is archived in 10000ft."
NO_HOURS = "The entry has no hours."
NO_TIMESTAMP = "Never synced with a 10000ft timestamp; sync and try again."
TOO_OLD = "Older than 60 days: 10000ft no longer takes it; ask your team lead."
STALE = (
    "10000ft refused it: the entry changed in 10000ft after the last sync. "
    "Sync, check it and submit again."
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One of the person's entries, as far as submitting it is concerned."""

    id: int
    upstream_id: int
    date: date
    hours: float
    status: str
    project_archived: bool
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    entry_id: int
    upstream_id: int | None
    date: date | None
    hours: float | None
    outcome: Outcome
    reason: str | None = None


def refusal(candidate: Candidate, today: date) -> str | None:
    """Why this entry cannot be submitted, or None when it can (the original's filter)."""
    if candidate.status != EntryStatus.UNSUBMITTED:
        return ALREADY_SUBMITTED.format(status=candidate.status)
    if candidate.project_archived:
        return ARCHIVED_PROJECT
    if not candidate.hours:
        return NO_HOURS
    if candidate.updated_at is None:
        return NO_TIMESTAMP
    if candidate.date < today - SUBMIT_WINDOW:
        return TOO_OLD
    return None


def refused(candidate: Candidate, reason: str) -> SubmitResult:
    return SubmitResult(
        candidate.id, candidate.upstream_id, candidate.date, candidate.hours, "refused", reason
    )


def submitted(candidate: Candidate) -> SubmitResult:
    return SubmitResult(
        candidate.id, candidate.upstream_id, candidate.date, candidate.hours, "submitted"
    )


def follow_up_sync(results: list[SubmitResult]) -> tuple[date, date] | None:
    """The dates to sync after a submission: those of the submitted entries, when they span
    less than 180 days (the original's rule); None when nothing was submitted. Fixes the
    original's crash on an empty selection (min of nothing)."""
    days = [r.date for r in results if r.outcome == "submitted" and r.date is not None]
    if not days:
        return None
    first, last = min(days), max(days)
    return (first, last) if last - first < MAX_FOLLOW_UP_SYNC else None
