"""The 10000ft syncs: users, projects with phases, leave types, holidays and hour entries.

Each sync takes an explicit sessionmaker and 10000ft client. The hour sync works day by day:
days are fetched concurrently, written in batches (one transaction each, under per-day locks),
skipped when their checksum did not change, and the stats of every invoice month the range
touches are refreshed at the end when anything changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.adapters.tenkfeet import Record, TenkfeetClient
from invoice_checker.domain import tenkfeet_mapping as mapping
from invoice_checker.domain.date_ranges import check_range, days_in, months_in, split_range
from invoice_checker.store import directory_sync as directory
from invoice_checker.store import hour_sync
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from invoice_checker.store.syncs import Event

logger = logging.getLogger(__name__)

Sessionmaker = async_sessionmaker[AsyncSession]
Progress = Callable[[int, int], Awaitable[None]]

BATCH_ROWS = 25_000  # entries per write transaction
BATCH_MAX_DAYS = 31
DEADLOCK_RETRIES = 3


@dataclass
class SyncSummary:
    """What a sync did; `line()` is the CLI's one-line summary."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0  # days for hours, records otherwise
    skipped: int = 0
    changed_days: int = 0
    refreshed_invoices: int = 0
    new_projects: list[str] = field(default_factory=list)

    def line(self, kind: str) -> str:
        unit = "unchanged days" if kind == "hours" else "unchanged"
        text = (
            f"{kind}: added {self.added}, updated {self.updated}, deleted {self.deleted}, "
            f"{unit} {self.unchanged}"
        )
        return f"{text}, skipped {self.skipped}" if self.skipped else text

    def add(self, result: hour_sync.BatchResult) -> None:
        self.added += result.added
        self.updated += result.updated
        self.deleted += result.deleted


async def _record_event(session: AsyncSession, event_type: str, summary: SyncSummary) -> None:
    session.add(
        Event(
            event_type=event_type,
            succeeded=True,
            message=summary.line(event_type),
            details={
                "added": summary.added,
                "updated": summary.updated,
                "deleted": summary.deleted,
                "unchanged": summary.unchanged,
                "skipped": summary.skipped,
            },
        )
    )


def _valid_rows(
    records: Sequence[Record], to_row: Callable[[Record], dict[str, Any] | None], what: str
) -> tuple[list[dict[str, Any]], int]:
    """Map records leniently: unreadable ones are logged and counted, never fatal."""
    rows, skipped = [], 0
    for record in records:
        try:
            row = to_row(record)
        except mapping.InvalidRecord as exc:
            logger.warning(
                f"10000ft {what} skipped", extra={"id": record.get("id"), "why": str(exc)}
            )
            skipped += 1
            continue
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return rows, skipped


# --- directory syncs ----------------------------------------------------------------------------


async def sync_users(sessionmaker: Sessionmaker, client: TenkfeetClient) -> SyncSummary:
    rows, skipped = _valid_rows(await client.users(), mapping.user_row, "user")
    async with sessionmaker() as session, session.begin():
        counts = await directory.upsert_users(session, rows)
        summary = SyncSummary(
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            skipped=skipped + counts.skipped,
        )
        await _record_event(session, "sync_10000ft_users", summary)
    return summary


async def _write_projects(
    session: AsyncSession, records: Sequence[Record], only_missing: bool
) -> SyncSummary:
    parents = [record for record in records if not mapping.is_phase(record)]
    rows, skipped = _valid_rows(parents, mapping.project_row, "project")
    if only_missing:
        known = await directory.project_guids(session)
        rows = [row for row in rows if row["project_id"] not in known]
    tags_by_id = {
        record["id"]: mapping.tag_names(record) for record in parents if _has_int_id(record)
    }
    tags = {row["guid"]: tags_by_id.get(row["project_id"], []) for row in rows}
    counts = await directory.upsert_projects(session, rows, tags)
    phases, phase_skips = _valid_rows(
        [record for record in records if mapping.is_phase(record)], mapping.phase_row, "phase"
    )
    await directory.upsert_phases(session, phases)
    return SyncSummary(
        added=counts.added,
        updated=counts.updated,
        unchanged=counts.unchanged,
        skipped=skipped + phase_skips,
        new_projects=counts.new_ids,
    )


async def sync_projects(sessionmaker: Sessionmaker, client: TenkfeetClient) -> SyncSummary:
    records = await client.projects_with_phases()
    async with sessionmaker() as session, session.begin():
        summary = await _write_projects(session, records, only_missing=False)
        await _record_event(session, "sync_10000ft_projects", summary)
    return summary


async def sync_leave_types(sessionmaker: Sessionmaker, client: TenkfeetClient) -> SyncSummary:
    rows, skipped = _valid_rows(await client.leave_types(), mapping.leave_type_row, "leave type")
    async with sessionmaker() as session, session.begin():
        counts = await directory.upsert_leave_types(session, rows)
        summary = SyncSummary(
            added=counts.added, updated=counts.updated, unchanged=counts.unchanged, skipped=skipped
        )
        await _record_event(session, "sync_10000ft_leave_types", summary)
    return summary


async def sync_holidays(sessionmaker: Sessionmaker, client: TenkfeetClient) -> SyncSummary:
    rows, skipped = _valid_rows(await client.holidays(), mapping.holiday_row, "holiday")
    async with sessionmaker() as session, session.begin():
        counts = await directory.replace_holidays(session, rows)
        summary = SyncSummary(
            added=counts.added,
            updated=counts.updated,
            deleted=counts.deleted,
            unchanged=counts.unchanged,
            skipped=skipped,
        )
        await _record_event(session, "sync_public_holidays", summary)
    return summary


# --- hour sync ----------------------------------------------------------------------------------


@dataclass
class _Batch:
    days: list[date] = field(default_factory=list)
    entries: dict[date, list[Record]] = field(default_factory=dict)
    size: int = 0


class HourSync:
    """One hour sync run over an inclusive date range."""

    def __init__(
        self,
        sessionmaker: Sessionmaker,
        client: TenkfeetClient,
        *,
        force: bool = False,
        concurrency: int = 6,
        progress: Progress | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.client = client
        self.force = force
        self.concurrency = concurrency
        self.progress = progress
        self.summary = SyncSummary()
        self.now = datetime.now(UTC)
        self._context: mapping.MappingContext | None = None
        self._users_refreshed = False
        self._projects_refreshed = False

    async def run(self, start: date, end: date, *, automatic_split: bool = False) -> SyncSummary:
        check_range(start, end, automatic_split=automatic_split)
        await self._load_context(refetch_leave_types=True)
        total = (end - start).days + 1
        done = 0
        for chunk_start, chunk_end in split_range(start, end):
            async for batch in self._batches(chunk_start, chunk_end):
                await self._write_batch(batch)
                done += len(batch.days)
                if self.progress is not None:
                    await self.progress(done, total)
        if self.force or self.summary.added or self.summary.updated or self.summary.deleted:
            async with self.sessionmaker() as session, session.begin():
                self.summary.refreshed_invoices = await refresh_invoice_stats(
                    session, months=months_in(start, end)
                )
        async with self.sessionmaker() as session, session.begin():
            await _record_event(session, "sync_10000ft_report_hours", self.summary)
        return self.summary

    # Context: who and what entries refer to. Assignables and leave types are fetched by every
    # hour sync (spec 4.3); projects missing locally are synced from them first.
    async def _load_context(self, *, refetch_leave_types: bool) -> None:
        records = await self.client.projects_with_phases()
        if refetch_leave_types or self._context is None:
            leave_types, _ = _valid_rows(
                await self.client.leave_types(), mapping.leave_type_row, "leave type"
            )
        async with self.sessionmaker() as session, session.begin():
            if refetch_leave_types or self._context is None:
                await directory.upsert_leave_types(session, leave_types)
            leave_project = await directory.ensure_leave_project(session)
            await _write_projects(session, records, only_missing=True)
            self._context = mapping.MappingContext(
                users=await directory.local_users(session),
                project_guids=await directory.project_guids(session),
                leave_project_guid=leave_project,
                assignables=mapping.assignables(
                    record for record in records if _has_int_id(record)
                ),
                leave_types=await directory.leave_type_names(session),
            )

    async def _refresh_users(self) -> None:
        await sync_users(self.sessionmaker, self.client)
        self._users_refreshed = True
        assert self._context is not None
        async with self.sessionmaker() as session:
            users = await directory.local_users(session)
        self._context = mapping.MappingContext(
            users=users,
            project_guids=self._context.project_guids,
            leave_project_guid=self._context.leave_project_guid,
            assignables=self._context.assignables,
            leave_types=self._context.leave_types,
        )

    async def _fetch_days(self, start: date, end: date) -> AsyncIterator[tuple[date, list[Record]]]:
        """Each day's entries with hours, in date order, fetched `concurrency` days ahead."""
        gate = asyncio.Semaphore(self.concurrency)

        async def fetch(day: date) -> list[Record]:
            async with gate:
                entries = await self.client.time_entries(day, day)
            return [entry for entry in entries if mapping.counts_as_hours(entry)]

        days = list(days_in(start, end))
        window = self.concurrency * 2
        pending = [asyncio.ensure_future(fetch(day)) for day in days[:window]]
        try:
            for index, day in enumerate(days):
                if index + window < len(days):
                    pending.append(asyncio.ensure_future(fetch(days[index + window])))
                yield day, await pending[index]
        finally:
            for task in pending:
                task.cancel()

    async def _batches(self, start: date, end: date) -> AsyncIterator[_Batch]:
        batch = _Batch()
        async for day, entries in self._fetch_days(start, end):
            batch.days.append(day)
            batch.entries[day] = entries
            batch.size += len(entries)
            if batch.size >= BATCH_ROWS or len(batch.days) >= BATCH_MAX_DAYS:
                yield batch
                batch = _Batch()
        if batch.days:
            yield batch

    async def _write_batch(self, batch: _Batch) -> None:
        digests = {day: mapping.day_digest(batch.entries[day]) for day in batch.days}
        await self._sync_missing_references(batch)
        for attempt in range(DEADLOCK_RETRIES):
            try:
                async with self.sessionmaker() as session, session.begin():
                    await self._write_batch_once(session, batch, digests)
                return
            except DBAPIError as exc:
                if attempt + 1 == DEADLOCK_RETRIES or not _is_deadlock(exc):
                    raise
                logger.warning("hour sync batch retried after a deadlock")

    async def _sync_missing_references(self, batch: _Batch) -> None:
        """Sync users and projects that entries name but we do not have yet, once per run."""
        context = self._context
        assert context is not None
        entries = [entry for day in batch.days for entry in batch.entries[day]]
        if not self._users_refreshed and any(
            entry.get("user_id") not in context.users for entry in entries
        ):
            await self._refresh_users()
        if not self._projects_refreshed and any(
            entry.get("assignable_type", "Project") == "Project"
            and entry.get("assignable_id") not in context.assignables
            for entry in entries
        ):
            self._projects_refreshed = True
            await self._load_context(refetch_leave_types=False)

    async def _write_batch_once(
        self, session: AsyncSession, batch: _Batch, digests: dict[date, str]
    ) -> None:
        await hour_sync.lock_days(session, batch.days)
        stored = await hour_sync.stored_digests(session, batch.days)
        changed = [day for day in batch.days if self.force or stored.get(day) != digests[day]]
        rows: list[mapping.HourRow] = []
        keep_ids: list[int] = []
        to_store = {}
        assert self._context is not None
        for day in changed:
            complete = True
            for entry in batch.entries[day]:
                try:
                    rows.append(mapping.hour_row(entry, self._context))
                except mapping.InvalidRecord as exc:
                    complete = False
                    self.summary.skipped += 1
                    if isinstance(entry.get("id"), int):
                        keep_ids.append(entry["id"])
                    logger.warning(
                        "10000ft time entry skipped", extra={"id": entry.get("id"), "why": str(exc)}
                    )
            to_store[day] = digests[day] if complete else mapping.RETRY_DIGEST
        if changed:
            result = await hour_sync.write_days(
                session, days=changed, rows=rows, digests=to_store, keep_ids=keep_ids, now=self.now
            )
            self.summary.add(result)
        self.summary.changed_days += len(changed)
        self.summary.unchanged += len(batch.days) - len(changed)


def _has_int_id(record: Record) -> bool:
    return isinstance(record.get("id"), int)


def _is_deadlock(exc: DBAPIError) -> bool:
    return "deadlock" in str(exc.orig).lower()


async def sync_hours(
    sessionmaker: Sessionmaker,
    client: TenkfeetClient,
    start: date,
    end: date,
    *,
    force: bool = False,
    automatic_split: bool = False,
    concurrency: int = 6,
    progress: Progress | None = None,
) -> SyncSummary:
    run = HourSync(sessionmaker, client, force=force, concurrency=concurrency, progress=progress)
    return await run.run(start, end, automatic_split=automatic_split)
