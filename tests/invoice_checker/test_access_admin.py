"""Taking access away (issue 12): `invoice-checker user ...` and /api/v1/access, deactivation
that ends sessions and tokens at once, token expiry, tokens minted from a browser session, the
user sync deactivating leavers, refused sign-ins that create nobody."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from click.testing import CliRunner, Result
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.cli import main as cli
from invoice_checker.jobs.sync import sync_users
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.oidc import OidcStandIn, serve_in_thread
from invoice_checker.simulators.tenkfeet import TenkfeetWorld
from invoice_checker.store.auth import AuthUser, Credential, principal_for_secret
from tests.invoice_checker.invoice_factories import bearer, make_token
from tests.invoice_checker.sync_support import in_process_client
from tests.invoice_checker.test_auth import CLIENT_ID, CLIENT_SECRET, DOMAIN, sign_in
from tests.support.apps import app_client

ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcStandIn]:
    with serve_in_thread(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


@pytest.fixture
def signin_settings(ic_settings: InvoiceCheckerSettings, provider: OidcStandIn) -> Any:
    return ic_settings.model_copy(
        update={
            "oidc_issuer_url": provider.issuer,
            "google_client_id": CLIENT_ID,
            "google_client_secret": SecretStr(CLIENT_SECRET),
            "allowed_domain": DOMAIN,
            "session_secret": SecretStr("test-session-secret-of-32-bytes!"),
            "cookie_secure": False,
        }
    )


@pytest_asyncio.fixture
async def client(
    signin_settings: Any, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(signin_settings), db_session) as running:
        yield running


@pytest_asyncio.fixture
async def committing_client(signin_settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app on its own engine: what it writes is committed, so a CLI process sees it."""
    async with app_client(create_app(signin_settings)) as running:
        yield running


def _env(settings: InvoiceCheckerSettings) -> dict[str, str]:
    return {
        "INVOICE_CHECKER_DATABASE_URL": settings.database_url,
        "INVOICE_CHECKER_REDIS_URL": settings.redis_url,
        "INVOICE_CHECKER_ENVIRONMENT": "test",
    }


async def run_cli(settings: InvoiceCheckerSettings, *args: str) -> Result:
    # The command runs its own event loop, so it goes to a thread.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=_env(settings))


async def test_cli_deactivation_ends_a_live_browser_session_on_the_next_request(
    committing_client: httpx.AsyncClient, signin_settings: InvoiceCheckerSettings
) -> None:
    email = f"leaver.{uuid.uuid4().hex[:8]}@{DOMAIN}"
    await sign_in(committing_client, email)
    assert (await committing_client.get("/api/v1/auth/me")).status_code == 200  # now cached
    minted = await committing_client.post(
        "/api/v1/auth/tokens", json={"name": "script"}, headers=ORIGIN
    )
    token = minted.json()["token"]
    assert (await committing_client.get("/api/v1/auth/me", headers=bearer(token))).is_success

    result = await run_cli(signin_settings, "user", "deactivate", email)
    assert result.exit_code == 0, result.output
    assert "DEACTIVATED" in result.output and "2 sessions and tokens ended" in result.output

    # Another process took the access away: this server's cache must not keep it alive.
    assert (await committing_client.get("/api/v1/auth/me")).status_code == 401
    assert (
        await committing_client.get("/api/v1/auth/me", headers=bearer(token))
    ).status_code == 401
    # Signing in again is refused while deactivated; reactivated, it works (new session).
    committing_client.cookies.clear()
    assert (await sign_in(committing_client, email)).status_code == 403
    assert (await run_cli(signin_settings, "user", "reactivate", email)).exit_code == 0
    assert (await sign_in(committing_client, email)).status_code == 302
    assert (await committing_client.get("/api/v1/auth/me")).status_code == 200
    # The old token stays revoked.
    assert (
        await committing_client.get("/api/v1/auth/me", headers=bearer(token))
    ).status_code == 401


async def test_cli_user_commands(
    committing_client: httpx.AsyncClient, signin_settings: InvoiceCheckerSettings
) -> None:
    email = f"ulla.{uuid.uuid4().hex[:8]}@{DOMAIN}"
    await sign_in(committing_client, email)
    granted = await run_cli(signin_settings, "user", "grant", email.upper(), "finance")
    assert granted.exit_code == 0, granted.output
    assert f"{email}  active  groups: employee, finance" in granted.output
    assert (await committing_client.get("/api/v1/auth/me")).json()["groups"] == [
        "employee",
        "finance",
    ]
    revoked = await run_cli(signin_settings, "user", "revoke", email, "employee")
    assert "groups: finance" in revoked.output
    listed = await run_cli(signin_settings, "user", "list")
    assert f"{email}  active  groups: finance" in listed.output.splitlines()
    made = await run_cli(signin_settings, "create-token", "--email", email, "--name", "nightly")
    assert "valid 90 days" in made.output
    shown = await run_cli(signin_settings, "user", "show", email)
    assert "can_send_invoices" in shown.output
    expires = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    assert f"'nightly'  expires {expires}  live" in shown.output
    assert (await run_cli(signin_settings, "user", "show", "nobody@x.org")).exit_code == 1
    assert (await run_cli(signin_settings, "user", "grant", email, "wizard")).exit_code == 2
    too_long = await run_cli(
        signin_settings, "create-token", "--email", email, "--expires-in-days", "366"
    )
    assert too_long.exit_code == 2
    short = await run_cli(
        signin_settings, "create-token", "--email", email, "--expires-in-days", "7"
    )
    assert "valid 7 days" in short.output


async def test_api_manages_people_and_anyones_tokens(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = bearer(await make_token(db_session, "admin", f"root.{uuid.uuid4().hex[:6]}@x.com"))
    email = f"tina.{uuid.uuid4().hex[:6]}@example.com"
    tina = await make_token(db_session, "team-lead", email)
    assert (await client.get("/api/v1/invoices", headers=bearer(tina))).status_code == 200

    granted = await client.put(f"/api/v1/access/users/{email}/groups/finance", headers=admin)
    assert granted.status_code == 200
    assert granted.json()["groups"] == ["finance", "team-lead"]
    assert "can_send_invoices" in granted.json()["permissions"]
    groups = {
        g["name"]: g for g in (await client.get("/api/v1/access/groups", headers=admin)).json()
    }
    assert email in groups["finance"]["members"] and email not in groups["admin"]["members"]
    assert "can_manage_access" in groups["admin"]["permissions"]

    shown = (await client.get(f"/api/v1/access/users/{email}", headers=admin)).json()
    assert shown["active"] is True and [t["email"] for t in shown["tokens"]] == [email]
    everyone = (await client.get("/api/v1/access/tokens", headers=admin)).json()
    assert {t["email"] for t in everyone} >= {email}
    assert all("token" not in t for t in everyone)

    # An admin revokes someone else's token: it stops at once.
    token_id = shown["tokens"][0]["id"]
    assert (
        await client.delete(f"/api/v1/access/tokens/{token_id}", headers=admin)
    ).status_code == 204
    assert (await client.get("/api/v1/invoices", headers=bearer(tina))).status_code == 401
    again = await client.delete(f"/api/v1/access/tokens/{token_id}", headers=admin)
    assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"

    # Deactivation ends every credential of the person at once.
    second = await make_token(db_session, "team-lead", email)
    assert (await client.get("/api/v1/invoices", headers=bearer(second))).status_code == 200
    gone = await client.post(f"/api/v1/access/users/{email}/deactivate", headers=admin)
    assert gone.status_code == 200
    assert (gone.json()["active"], gone.json()["ended_credentials"]) == (False, 1)
    assert (await client.get("/api/v1/invoices", headers=bearer(second))).status_code == 401
    back = await client.post(f"/api/v1/access/users/{email}/reactivate", headers=admin)
    assert back.json()["active"] is True
    assert (await client.get("/api/v1/invoices", headers=bearer(second))).status_code == 401

    removed = await client.delete(f"/api/v1/access/users/{email}/groups/finance", headers=admin)
    assert removed.json()["groups"] == ["team-lead"]
    me = (await client.get("/api/v1/auth/me", headers=admin)).json()["email"]
    myself = await client.post(f"/api/v1/access/users/{me}/deactivate", headers=admin)
    assert myself.status_code == 409
    lockout = await client.delete(f"/api/v1/access/users/{me}/groups/admin", headers=admin)
    assert lockout.status_code == 409
    assert (await client.get("/api/v1/access/users", headers=admin)).status_code == 200
    for path in ("/api/v1/access/users/no.one@x.com", "/api/v1/access/tokens?email=no.one@x.com"):
        assert (await client.get(path, headers=admin)).status_code == 404
    wizard = await client.put(f"/api/v1/access/users/{email}/groups/wizard", headers=admin)
    assert wizard.status_code == 404
    huge = await client.delete(f"/api/v1/access/tokens/{2**64}", headers=admin)
    assert huge.status_code == 422


async def test_api_tokens_expire(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    me = bearer(await make_token(db_session, "employee"))
    made = await client.post("/api/v1/auth/tokens", json={"name": "default"}, headers=me)
    assert made.status_code == 201
    lifetime = datetime.fromisoformat(made.json()["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=89, hours=23) < lifetime <= timedelta(days=90)
    year = await client.post(
        "/api/v1/auth/tokens", json={"name": "y", "expires_in_days": 365}, headers=me
    )
    assert year.status_code == 201
    for days in (366, 3650, 0):
        refused = await client.post(
            "/api/v1/auth/tokens", json={"name": "x", "expires_in_days": days}, headers=me
        )
        assert refused.status_code == 422
    # Once past its expiry a token is refused.
    token = made.json()["token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200
    await db_session.execute(
        update(Credential)
        .where(Credential.id == made.json()["id"])
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    assert await principal_for_secret(db_session, token, kind="api") is None


async def test_a_token_minted_in_the_browser_ends_at_sign_out(client: httpx.AsyncClient) -> None:
    await sign_in(client, f"bea.{uuid.uuid4().hex[:6]}@{DOMAIN}")
    browser_made = await client.post("/api/v1/auth/tokens", json={"name": "b"}, headers=ORIGIN)
    token = browser_made.json()["token"]
    # A token minted with a token (a script's) is not tied to the browser session.
    script_made = await client.post(
        "/api/v1/auth/tokens", json={"name": "s"}, headers=bearer(token)
    )
    script_token = script_made.json()["token"]
    assert (await client.post("/api/v1/auth/logout", headers=ORIGIN)).status_code == 204
    client.cookies.clear()
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(script_token))).status_code == 200


async def test_refused_sign_ins_create_nobody(
    client: httpx.AsyncClient, provider: OidcStandIn, db_session: AsyncSession
) -> None:
    stranger = f"mallory.{uuid.uuid4().hex[:6]}@example.org"
    assert (await sign_in(client, stranger)).status_code == 403
    # An unverified address of the right domain: the stand-in signs what it is told.
    unverified = f"una.{uuid.uuid4().hex[:6]}@{DOMAIN}"
    provider.claim_overrides = {"email_verified": False}
    try:
        assert (await sign_in(client, unverified)).status_code == 400
    finally:
        provider.claim_overrides = {}
    known = await db_session.scalar(
        select(func.count()).where(AuthUser.email.in_([stranger, unverified]))
    )
    assert known == 0


async def test_the_user_sync_deactivates_people_archived_or_deleted_in_tenkfeet(
    db_session: AsyncSession,
) -> None:
    sessionmaker = async_sessionmaker(
        bind=db_session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    world = TenkfeetWorld(seed=12, user_count=4, project_count=1)
    async with in_process_client(world) as tenkfeet:
        await sync_users(sessionmaker, tenkfeet)
        emails = [user["email"].lower() for user in world.users]
        tokens = [await make_token(db_session, "employee", email) for email in emails]
        outsider = await make_token(db_session, "admin")  # no 10000ft user: left alone
        world.users[0]["archived"] = True
        world.users[1]["deleted"] = True
        del world.users[2]  # deleted: no longer listed at all
        world.users[-1]["hire_date"] = "soon"  # unreadable, so skipped: but still there
        await sync_users(sessionmaker, tenkfeet)
    rows = await db_session.execute(
        select(AuthUser.email, AuthUser.active).where(AuthUser.email.in_(emails))
    )
    active = {row.email: row.active for row in rows}
    assert active == {emails[0]: False, emails[1]: False, emails[2]: False, emails[3]: True}
    alive = [await principal_for_secret(db_session, t, kind="api") is not None for t in tokens]
    assert alive == [False, False, False, True]
    assert await principal_for_secret(db_session, outsider, kind="api") is not None
