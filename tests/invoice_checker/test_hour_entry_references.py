"""An hour entry's invoice and user, kept by statement-level triggers (migration ic0008) as the
two foreign keys kept them: no entry names a missing invoice or user, deletes cascade or unlink."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from invoice_checker.domain.tenkfeet_mapping import HourRow
from invoice_checker.store import hour_sync
from invoice_checker.store.directory import Project
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoices import Invoice
from tests.invoice_checker.directory_factories import make_user
from tests.invoice_checker.invoice_factories import (
    add_entries,
    make_invoice,
    make_project,
)

MONTH = date(2033, 4, 1)  # a month no other test uses
MISSING = uuid.UUID(int=1)
# A new entry like entry :entry but naming :missing in `column`.
_COPY_OF_ENTRY = """
INSERT INTO invoice_checker.hour_entries
SELECT (jsonb_populate_record(e, jsonb_build_object(
    'id', -e.id, 'upstream_id', -e.upstream_id, '{column}', CAST(:missing AS uuid)))).*
FROM invoice_checker.hour_entries e WHERE e.id = :entry
"""


async def _entries_of(session: AsyncSession, invoice: Invoice) -> list[HourEntry]:
    found = await session.scalars(
        select(HourEntry)
        .where(HourEntry.invoice_id == invoice.id)
        .execution_options(populate_existing=True)
    )
    return list(found)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (
            "UPDATE invoice_checker.hour_entries SET invoice_id = :missing WHERE id = :entry",
            "names an invoice that does not exist",
        ),
        (
            "UPDATE invoice_checker.hour_entries SET user_guid = :missing WHERE id = :entry",
            "names a 10000ft user that does not exist",
        ),
        (_COPY_OF_ENTRY.format(column="invoice_id"), "names an invoice that does not exist"),
        (_COPY_OF_ENTRY.format(column="user_guid"), "names a 10000ft user that does not exist"),
        (
            "UPDATE invoice_checker.invoices SET id = :missing WHERE id = :invoice",
            "id of an invoice that hour entries name cannot change",
        ),
        (
            "UPDATE invoice_checker.tenkfeet_users SET guid = :missing WHERE guid = :user",
            "guid of a 10000ft user that hour entries name cannot change",
        ),
    ],
)
async def test_entries_keep_their_references_as_foreign_keys_did(
    db_session: AsyncSession, statement: str, refusal: str
) -> None:
    invoice = await make_invoice(db_session, await make_project(db_session), MONTH)
    person = await make_user(db_session)
    await add_entries(db_session, invoice, {"user_guid": person.guid})
    [entry] = await _entries_of(db_session, invoice)
    binds = {"entry": entry.id, "invoice": invoice.id, "user": person.guid, "missing": MISSING}
    with pytest.raises(IntegrityError, match=refusal):
        async with db_session.begin_nested():
            await db_session.execute(text(statement), binds)


def _hour_row(upstream_id: int, project: Project, user: uuid.UUID | None) -> HourRow:
    values: dict[str, Any] = dict.fromkeys(HourRow._fields)
    values.update(
        upstream_id=upstream_id,
        date=MONTH,
        project_guid=project.guid,
        invoice_month=MONTH,
        user_guid=user,
        user_id=1,
        client="Acme",
        project=project.name,
        incurred_hours=1.0,
        incurred_money=100.0,
        bill_rate=100.0,
        category="Development",
        entry_type="Confirmed",
        discipline="[none]",
        role="[none]",
        leave_type="[project]",
        phase_name="Development",
        status="Approved",
    )
    flags = [name for name in HourRow._fields if name.startswith("calculated_")]
    values.update(dict.fromkeys([*flags, "billable", "approved"], True))
    return HourRow(**values)


async def _write(session: AsyncSession, *rows: HourRow) -> hour_sync.BatchResult:
    return await hour_sync.write_days(
        session, days=[MONTH], rows=rows, digests={MONTH: "x"}, now=datetime.now(UTC)
    )


@pytest.mark.parametrize("first_sync", [True, False], ids=["first sync (COPY)", "re-sync (merge)"])
@pytest.mark.parametrize("unknown", ["user", "project"])
async def test_the_sync_cannot_store_a_row_of_an_unknown_project_or_user(
    db_session: AsyncSession, first_sync: bool, unknown: str
) -> None:
    project = await make_project(db_session)
    person = await make_user(db_session)
    upstream = uuid.uuid4().int % 10**12
    if not first_sync:  # the day holds an entry already: the rows go through the merge
        await _write(db_session, _hour_row(upstream, project, person.guid))
    bad = _hour_row(upstream + 1, project, person.guid)
    if unknown == "user":
        bad = bad._replace(user_guid=MISSING)
    else:
        bad = bad._replace(project_guid=MISSING)  # its invoice cannot be made
    with pytest.raises(
        (IntegrityError, asyncpg.ForeignKeyViolationError),
        match=r"does not exist|violates foreign key",
    ):
        async with db_session.begin_nested():
            await _write(db_session, _hour_row(upstream + 2, project, person.guid), bad)
    stored = await db_session.scalar(
        select(func.count()).select_from(HourEntry).where(HourEntry.date == MONTH)
    )
    assert stored == (0 if first_sync else 1)


async def test_a_deleted_invoice_takes_its_entries_and_only_those(db_session: AsyncSession) -> None:
    project = await make_project(db_session)
    gone, kept = [await make_invoice(db_session, project, MONTH.replace(month=m)) for m in (4, 5)]
    await add_entries(db_session, gone, {}, {})
    await add_entries(db_session, kept, {"date": kept.date})
    await db_session.execute(
        text("DELETE FROM invoice_checker.invoices WHERE id = :id"), {"id": gone.id}
    )
    left = [len(await _entries_of(db_session, invoice)) for invoice in (gone, kept)]
    assert left == [0, 1]


async def test_a_deleted_project_takes_its_invoices_entries(db_session: AsyncSession) -> None:
    """The project's key cascades to its invoices, whose trigger takes their entries."""
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, MONTH)
    await add_entries(db_session, invoice, {})
    await db_session.execute(
        text("DELETE FROM invoice_checker.projects WHERE guid = :guid"), {"guid": project.guid}
    )
    assert await _entries_of(db_session, invoice) == []


async def test_a_deleted_user_leaves_their_entries_without_user(db_session: AsyncSession) -> None:
    invoice = await make_invoice(db_session, await make_project(db_session), MONTH)
    leaving, staying = await make_user(db_session), await make_user(db_session)
    await add_entries(db_session, invoice, {"user_guid": leaving.guid}, {"user_guid": staying.guid})
    await db_session.execute(
        text("DELETE FROM invoice_checker.tenkfeet_users WHERE guid = :guid"),
        {"guid": leaving.guid},
    )
    users = sorted(str(entry.user_guid) for entry in await _entries_of(db_session, invoice))
    assert users == sorted(["None", str(staying.guid)])


async def test_truncating_invoices_or_users_leaves_no_entry_naming_them(
    db_session: AsyncSession,
) -> None:
    """As a TRUNCATE ... CASCADE through the keys did; inside the test's transaction."""
    invoice = await make_invoice(db_session, await make_project(db_session), MONTH)
    person = await make_user(db_session)
    await add_entries(db_session, invoice, {"user_guid": person.guid})
    await db_session.execute(text("TRUNCATE invoice_checker.tenkfeet_users CASCADE"))
    [entry] = await _entries_of(db_session, invoice)
    assert entry.user_guid is None
    await db_session.execute(text("TRUNCATE invoice_checker.invoices CASCADE"))
    assert await db_session.scalar(select(func.count()).select_from(HourEntry)) == 0


@pytest.fixture
async def committed_invoice(engine: AsyncEngine) -> AsyncIterator[Invoice]:
    """An invoice committed for real (two connections race over it); removed afterwards."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        project = await make_project(session)
        invoice = await make_invoice(session, project, MONTH)
        await session.commit()
    try:
        yield invoice
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM invoice_checker.projects WHERE guid = :guid"),
                {"guid": project.guid},
            )


async def _delete_invoice(engine: AsyncEngine, invoice: Invoice) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM invoice_checker.invoices WHERE id = :id"), {"id": invoice.id}
        )


async def test_an_invoice_deleted_while_entries_are_written_waits_then_takes_them(
    engine: AsyncEngine, committed_invoice: Invoice
) -> None:
    async with AsyncSession(engine) as writer:
        await add_entries(writer, committed_invoice, {})  # the invoice is locked, not committed
        deleting = asyncio.create_task(_delete_invoice(engine, committed_invoice))
        await asyncio.sleep(0.3)
        assert not deleting.done()  # waits for the writer, as for a key check's lock
        await writer.commit()
    await asyncio.wait_for(deleting, timeout=10)
    async with AsyncSession(engine) as reader:
        assert await _entries_of(reader, committed_invoice) == []


async def test_entries_written_while_their_invoice_is_deleted_are_refused(
    engine: AsyncEngine, committed_invoice: Invoice
) -> None:
    async with engine.connect() as deleter:
        await deleter.execute(
            text("DELETE FROM invoice_checker.invoices WHERE id = :id"),
            {"id": committed_invoice.id},
        )
        async with AsyncSession(engine) as writer:
            writing = asyncio.create_task(add_entries(writer, committed_invoice, {}))
            await asyncio.sleep(0.3)
            assert not writing.done()  # waits for the delete to commit or roll back
            await deleter.commit()
            with pytest.raises(IntegrityError, match="names an invoice that does not exist"):
                await asyncio.wait_for(writing, timeout=10)
