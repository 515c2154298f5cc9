"""Housekeeping removes old events, finished sync runs and dead sessions, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.jobs.housekeeping import clean_up
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.auth import Credential, ensure_user, issue_credential
from invoice_checker.store.syncs import Event, SyncRun

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_old_rows_go_recent_and_live_ones_stay(
    db_session: AsyncSession, ic_settings: InvoiceCheckerSettings
) -> None:
    settings = ic_settings.model_copy(update={"retention_days": 30})
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=29)
    events = [
        Event(event_type="old", succeeded=True, message="x", timestamp=old),
        Event(event_type="recent", succeeded=True, message="x", timestamp=recent),
    ]
    runs = [
        SyncRun(kind="users", status="succeeded", created_at=old),
        SyncRun(kind="users", status="failed", created_at=old),
        SyncRun(kind="users", status="queued", created_at=old),  # still to do: kept
        SyncRun(kind="projects", status="succeeded", created_at=recent),
    ]
    db_session.add_all([*events, *runs])
    user = await ensure_user(db_session, "someone@example.com")
    expired, _ = await issue_credential(db_session, user, kind="session", name="expired")
    expired.expires_at = NOW - timedelta(minutes=1)
    revoked, _ = await issue_credential(db_session, user, kind="session", name="revoked")
    revoked.revoked_at = NOW - timedelta(days=1)
    live, _ = await issue_credential(db_session, user, kind="session", name="live")
    live.expires_at = NOW + timedelta(hours=1)
    token, _ = await issue_credential(db_session, user, kind="api", name="script")
    token.revoked_at = NOW - timedelta(days=1)  # API tokens stay listed for their owner
    await db_session.flush()

    message = await clean_up(db_session, settings, NOW)

    # Sessions are counted over the whole table; this test's two are checked by name below.
    assert message.startswith("Removed 1 events and 2 sync runs older than 30 days, and ")
    kept_events = await db_session.execute(
        select(Event.event_type).where(Event.id.in_([e.id for e in events]))
    )
    assert list(kept_events.scalars()) == ["recent"]
    kept_runs = await db_session.execute(
        select(SyncRun.status).where(SyncRun.id.in_([r.id for r in runs])).order_by(SyncRun.id)
    )
    assert list(kept_runs.scalars()) == ["queued", "succeeded"]
    names = await db_session.execute(
        select(Credential.name).where(Credential.user_id == user.id).order_by(Credential.name)
    )
    assert list(names.scalars()) == ["live", "script"]
