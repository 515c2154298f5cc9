"""The 10000ft syncs: users, projects with phases, leave types, holidays and hour entries.

Each sync takes an explicit sessionmaker and 10000ft client. The hour sync works day by day:
days are fetched concurrently, written in batches (one transaction each, under per-day locks),
skipped when their checksum did not change, and the stats of every invoice month the range
touches are refreshed at the end when anything changed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.adapters.tenkfeet import Record, TenkfeetClient, decode_items
from invoice_checker.domain import tenkfeet_mapping as mapping
from invoice_checker.domain.date_ranges import check_range, days_in, months_in, split_range
from invoice_checker.store import directory_sync as directory
from invoice_checker.store import hour_sync
from invoice_checker.store.access import deactivate_departed
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from invoice_checker.store.syncs import Event

logger = logging.getLogger(__name__)

Sessionmaker = async_sessionmaker[AsyncSession]
Progress = Callable[[int, int], Awaitable[None]]

BATCH_BYTES = 12_000_000  # raw page bytes per write transaction (about 20,000 entries)
BATCH_MAX_DAYS = 31
DEADLOCK_RETRIES = 3
# The audit event each kind of sync writes (the original's names), on success and failure.
EVENT_TYPES = {
    "users": "sync_10000ft_users",
    "projects": "sync_10000ft_projects",
    "leave-types": "sync_10000ft_leave_types",
    "holidays": "sync_public_holidays",
    "hours": "sync_10000ft_report_hours",
}


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
    """Upsert the users, and take sign-in away from people who left: archived or deleted in
    10000ft (flagged, or no longer listed though archived ones are asked for)."""
    records = await client.users()
    rows, skipped = _valid_rows(records, mapping.user_row, "user")
    async with sessionmaker() as session, session.begin():
        gone = await directory.users_not_listed(session, mapping.listed_guids(records))
        counts = await directory.upsert_users(session, rows)
        departed = await deactivate_departed(session, {*gone, *mapping.departed_emails(records)})
        if departed:
            logger.info("people who left 10000ft deactivated", extra={"emails": departed})
        summary = SyncSummary(
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            skipped=skipped + counts.skipped,
        )
        await _record_event(session, EVENT_TYPES["users"], summary)
    return summary


async def _write_projects(
    session: AsyncSession, records: Sequence[Record], only_missing: bool
) -> SyncSummary:
    parents = [record for record in records if not mapping.is_phase(record)]
    rows, skipped = _valid_rows(parents, mapping.project_row, "project")
    if only_missing:
        known = await directory.project_guids(session)
        rows = [row for row in rows if row["project_id"] not in known]
    # An empty tag list clears a project's admins; a record without tags says nothing about them.
    tags_by_id = {
        record["id"]: mapping.tag_names(record)
        for record in parents
        if _has_int_id(record) and "tags" in record
    }
    tags = {
        row["guid"]: tags_by_id[row["project_id"]]
        for row in rows
        if row["project_id"] in tags_by_id
    }
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
        await _record_event(session, EVENT_TYPES["projects"], summary)
    return summary


async def sync_leave_types(sessionmaker: Sessionmaker, client: TenkfeetClient) -> SyncSummary:
    rows, skipped = _valid_rows(await client.leave_types(), mapping.leave_type_row, "leave type")
    async with sessionmaker() as session, session.begin():
        counts = await directory.upsert_leave_types(session, rows)
        summary = SyncSummary(
            added=counts.added, updated=counts.updated, unchanged=counts.unchanged, skipped=skipped
        )
        await _record_event(session, EVENT_TYPES["leave-types"], summary)
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
        await _record_event(session, EVENT_TYPES["holidays"], summary)
    return summary


# --- hour sync ----------------------------------------------------------------------------------


@dataclass
class _Batch:
    """Consecutive days fetched as raw pages; decoded and mapped only where they changed."""

    pages: dict[date, list[bytes]] = field(default_factory=dict)
    size: int = 0

    @property
    def days(self) -> list[date]:
        return list(self.pages)


@dataclass
class _Prepared:
    days: list[date]  # the days that looked changed before locking
    digests: dict[date, str]
    rows: list[mapping.HourRow]
    skipped_ids: list[int]
    incomplete_days: set[date]


class HourSync:
    """One hour sync run over an inclusive date range.

    Days are fetched `concurrency` at a time as raw pages. A batch of days is then prepared
    (days whose checksum matches the stored one are skipped undecoded; the rest are decoded and
    mapped) while the previous batch is being written, so Python and PostgreSQL work at once.
    """

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
        self._days_done = 0
        self._days_total = 0

    @property
    def context(self) -> mapping.MappingContext:
        if self._context is None:
            raise RuntimeError("the mapping context is loaded when a sync run starts")
        return self._context

    async def run(self, start: date, end: date, *, automatic_split: bool = False) -> SyncSummary:
        check_range(start, end, automatic_split=automatic_split)
        await self._load_context(refetch_leave_types=True)
        self._days_total = (end - start).days + 1
        writing: asyncio.Task[None] | None = None
        try:
            for chunk_start, chunk_end in split_range(start, end):
                async for batch in self._batches(chunk_start, chunk_end):
                    prepared = await self._prepare(batch)
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(self._write(batch.days, prepared))
            if writing is not None:
                await writing
        except BaseException:
            # Fetching failed: let the batch being written commit (its days are whole), then fail.
            if writing is not None and not writing.done():
                await asyncio.wait([writing])
                if not writing.cancelled() and writing.exception() is not None:
                    logger.warning("hour sync batch failed", exc_info=writing.exception())
            raise
        if self.force or self.summary.added or self.summary.updated or self.summary.deleted:
            async with self.sessionmaker() as session, session.begin():
                self.summary.refreshed_invoices = await refresh_invoice_stats(
                    session, months=months_in(start, end)
                )
        async with self.sessionmaker() as session, session.begin():
            await _record_event(session, EVENT_TYPES["hours"], self.summary)
        return self.summary

    # Context: who and what entries refer to. Assignables and leave types are fetched by every
    # hour sync (spec 4.3); projects missing locally are synced from them first.
    async def _load_context(self, *, refetch_leave_types: bool) -> None:
        records = await self.client.projects_with_phases()
        leave_types: list[dict[str, Any]] = []
        if refetch_leave_types:
            leave_types, _ = _valid_rows(
                await self.client.leave_types(), mapping.leave_type_row, "leave type"
            )
        async with self.sessionmaker() as session, session.begin():
            if refetch_leave_types:
                await directory.upsert_leave_types(session, leave_types)
            leave_project = await directory.ensure_leave_project(session)
            await _write_projects(session, records, only_missing=True)
            self._context = mapping.MappingContext(
                users=await directory.local_users(session),
                project_guids=await directory.project_guids(session),
                leave_project_guid=leave_project,
                assignables=mapping.assignables(records),
                leave_types=await directory.leave_type_names(session),
            )

    async def _refresh_users(self) -> None:
        await sync_users(self.sessionmaker, self.client)
        self._users_refreshed = True
        async with self.sessionmaker() as session:
            users = await directory.local_users(session)
        self._context = replace(self.context, users=users)

    async def _fetch_days(self, start: date, end: date) -> AsyncIterator[tuple[date, list[bytes]]]:
        """Each day's raw pages, in date order, fetched `concurrency` days ahead."""
        gate = asyncio.Semaphore(self.concurrency)

        async def fetch(day: date) -> list[bytes]:
            async with gate:
                return await self.client.time_entry_pages(day, day)

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
        async for day, pages in self._fetch_days(start, end):
            batch.pages[day] = pages
            batch.size += sum(len(page) for page in pages)
            if batch.size >= BATCH_BYTES or len(batch.pages) >= BATCH_MAX_DAYS:
                yield batch
                batch = _Batch()
        if batch.pages:
            yield batch

    async def _prepare(self, batch: _Batch) -> _Prepared:
        """Find the days that look changed (no lock yet: a cheap read), decode and map them."""
        digests = {day: mapping.day_digest(pages) for day, pages in batch.pages.items()}
        async with self.sessionmaker() as session:
            stored = await hour_sync.stored_digests(session, batch.days)
        candidates = [day for day in batch.days if self.force or stored.get(day) != digests[day]]
        with _collector_paused():
            entries = {
                day: [
                    entry
                    for page in batch.pages[day]
                    for entry in decode_items(page)
                    if mapping.counts_as_hours(entry)
                ]
                for day in candidates
            }
        await self._sync_missing_references([e for day in candidates for e in entries[day]])
        prepared = _Prepared(candidates, digests, [], [], set())
        with _collector_paused():
            for day in candidates:
                self._map_day(day, entries[day], prepared)
        return prepared

    def _map_day(self, day: date, entries: list[Record], prepared: _Prepared) -> None:
        for entry in entries:
            try:
                prepared.rows.append(mapping.hour_row(entry, self.context))
            except mapping.InvalidRecord as exc:
                prepared.incomplete_days.add(day)
                self.summary.skipped += 1
                if isinstance(entry.get("id"), int):
                    prepared.skipped_ids.append(entry["id"])
                logger.warning(
                    "10000ft time entry skipped", extra={"id": entry.get("id"), "why": str(exc)}
                )

    async def _sync_missing_references(self, entries: list[Record]) -> None:
        """Sync users and projects that entries name but we do not have yet, once per run."""
        context = self.context
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

    async def _write(self, days: list[date], prepared: _Prepared) -> None:
        for attempt in range(DEADLOCK_RETRIES):
            try:
                async with self.sessionmaker() as session, session.begin():
                    await self._write_once(session, prepared)
                break
            except DBAPIError as exc:
                if attempt + 1 == DEADLOCK_RETRIES or not _is_deadlock(exc):
                    raise
                logger.warning("hour sync batch retried after a deadlock")
        self.summary.changed_days += len(prepared.days)
        self.summary.unchanged += len(days) - len(prepared.days)
        self._days_done += len(days)
        if self.progress is not None:
            await self.progress(self._days_done, self._days_total)

    async def _write_once(self, session: AsyncSession, prepared: _Prepared) -> None:
        """Under the day locks: days another sync has meanwhile written the same way are left
        alone; the others are replaced by the fetched state."""
        if not prepared.days:
            return
        await hour_sync.lock_days(session, prepared.days)
        stored = await hour_sync.stored_digests(session, prepared.days)
        days = {
            day for day in prepared.days if self.force or stored.get(day) != prepared.digests[day]
        }
        if not days:
            return
        rows = [row for row in prepared.rows if row.date in days]
        digests = {
            day: mapping.RETRY_DIGEST if day in prepared.incomplete_days else prepared.digests[day]
            for day in sorted(days)
        }
        result = await hour_sync.write_days(
            session,
            days=sorted(days),
            rows=rows,
            digests=digests,
            keep_ids=prepared.skipped_ids,
            now=self.now,
        )
        self.summary.add(result)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector over a synchronous stretch (no await inside).

    Decoding and mapping a batch allocates about a million objects that stay alive until it is
    written; the collector would rescan them over and over (about 70% of the decoding time, by
    py-spy). JSON values and rows form no reference cycles, so nothing is left uncollected:
    the collector resumes when the stretch ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
