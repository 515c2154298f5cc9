"""Submit a person's unsubmitted hour entries to 10000ft (spec 4.9) and record the outcome.

The entries 10000ft accepted are marked Pending Approval at once, as the original did, and the
invoices they belong to get fresh stats; the next hour sync then confirms the status from
10000ft itself. If 10000ft cannot be reached nothing is changed here, so the person can simply
submit again.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.adapters.tenkfeet import Approvable, Record, TenkfeetClient
from invoice_checker.domain import hour_submission as rules
from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.hour_submission import Candidate, SubmitResult
from invoice_checker.store.directory import Project, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from invoice_checker.store.invoices import Invoice


def _candidates_query(user_guid: uuid.UUID) -> Select[HourEntry, bool]:
    return (
        select(HourEntry, Project.archived)
        .join(Invoice, Invoice.id == HourEntry.invoice_id)
        .join(Project, Project.guid == Invoice.project_guid)
        .where(HourEntry.user_guid == user_guid)
        .order_by(HourEntry.date.desc(), HourEntry.id)
    )


def candidate_of(entry: HourEntry, archived: bool) -> Candidate:
    return Candidate(
        id=entry.id,
        upstream_id=entry.upstream_id,
        date=entry.date,
        hours=entry.incurred_hours,
        status=entry.status,
        project_archived=archived,
        updated_at=entry.updated_at,
    )


async def unsubmitted_entries(
    session: AsyncSession, user_guid: uuid.UUID
) -> list[tuple[HourEntry, bool]]:
    """The person's unsubmitted entries with hours, newest first, each with whether it can be
    submitted automatically (the original's /you/hours/unsubmitted listing, archived projects
    left out)."""
    rows = await session.execute(
        _candidates_query(user_guid).where(
            HourEntry.status == EntryStatus.UNSUBMITTED,
            HourEntry.incurred_hours != 0,
            Project.archived.is_(False),
        )
    )
    return [(entry, archived) for entry, archived in rows]


async def person_by_email(session: AsyncSession, email: str) -> TenkfeetUser | None:
    """The 10000ft user a signed-in person is (e-mails are stored lower-cased)."""
    found: TenkfeetUser | None = await session.scalar(
        select(TenkfeetUser).where(TenkfeetUser.email == email.lower())
    )
    return found


async def submit_hours(
    session: AsyncSession,
    client: TenkfeetClient,
    *,
    user_guid: uuid.UUID,
    today: date,
    entry_ids: Collection[int] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[SubmitResult]:
    """Submit the person's entries: those named by `entry_ids` (local ids), or else every
    unsubmitted one in start..end. Returns one result per entry, refusals with their reason.
    Raises `TenkfeetError` (nothing changed) when 10000ft cannot be reached or refuses the call.
    """
    statement = _candidates_query(user_guid)
    if entry_ids is not None:
        statement = statement.where(HourEntry.id.in_(list(entry_ids)))
    else:
        statement = statement.where(HourEntry.status == EntryStatus.UNSUBMITTED)
    if start is not None:
        statement = statement.where(HourEntry.date >= start)
    if end is not None:
        statement = statement.where(HourEntry.date <= end)
    rows = (await session.execute(statement)).all()
    candidates = [candidate_of(entry, archived) for entry, archived in rows]

    results: dict[int, SubmitResult] = {}
    if entry_ids is not None:
        # Another person's id reads the same as a missing one: nothing about it is revealed.
        found = {c.id for c in candidates}
        for missing in sorted(set(entry_ids) - found):
            results[missing] = SubmitResult(missing, None, None, None, "refused", rules.NOT_FOUND)
    eligible: list[Candidate] = []
    for candidate in candidates:
        reason = rules.refusal(candidate, today)
        if reason is None:
            eligible.append(candidate)
        else:
            results[candidate.id] = rules.refused(candidate, reason)
    if eligible:
        approvals = await client.submit_for_approval(
            [Approvable(c.upstream_id, c.updated_at) for c in eligible if c.updated_at]
        )
        wanted = {c.upstream_id for c in eligible}
        accepted = {key: a for key, a in _accepted(approvals).items() if key in wanted}
        for candidate in eligible:
            approval = accepted.get(candidate.upstream_id)
            if approval is None:
                results[candidate.id] = rules.refused(candidate, rules.STALE)
            else:
                results[candidate.id] = rules.submitted(candidate)
        await _mark_pending(session, list(accepted.values()))
    # Newest first, as listed; ids that matched nothing last.
    return sorted(
        results.values(),
        key=lambda r: (r.date is None, -(r.date.toordinal() if r.date else 0), r.entry_id),
    )


def _accepted(approvals: list[Record]) -> dict[int, Record]:
    """The approvals 10000ft answered with, by time entry id; only pending ones count (an entry
    that is already approved upstream is left for the sync to record)."""
    return {
        int(approval["approvable_id"]): approval
        for approval in approvals
        if approval.get("status") == "pending"
        and approval.get("approvable_type", "TimeEntry") == "TimeEntry"
        and isinstance(approval.get("approvable_id"), int)
    }


async def _mark_pending(session: AsyncSession, approvals: list[Record]) -> None:
    if not approvals:
        return
    invoice_ids: set[uuid.UUID] = set()
    for approval in approvals:
        submitted_by = approval.get("submitted_by")
        result = await session.execute(
            update(HourEntry)
            .where(
                HourEntry.upstream_id == approval["approvable_id"],
                HourEntry.status == EntryStatus.UNSUBMITTED,
            )
            .values(
                status=EntryStatus.PENDING_APPROVAL,
                upstream_approvable_id=approval.get("id"),
                submitted_by=None if submitted_by is None else str(submitted_by),
            )
            .returning(HourEntry.invoice_id)
        )
        invoice_ids.update(result.scalars())
    await refresh_invoice_stats(session, invoice_ids=invoice_ids)
