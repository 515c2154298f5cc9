"""Sign-in against the local OpenID Connect stand-in, sessions, API tokens, create-token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio
from arq.connections import ArqRedis
from click.testing import CliRunner, Result
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from devtools.simulators.invoice_checker.oidc import OidcStandIn, serve_in_thread
from invoice_checker.adapters import oidc
from invoice_checker.api.permissions import PrincipalCache
from invoice_checker.cli import main as cli
from invoice_checker.domain.permissions import Principal, permissions_of
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.access import ACCESS_EPOCH_KEY, access_changed, access_epoch
from invoice_checker.store.auth import principal_for_secret
from service_kit.kept_redis import KeptRedis
from tests.invoice_checker.invoice_factories import bearer, make_token
from tests.support.apps import app_client

CLIENT_ID = "invoice-checker-test"
CLIENT_SECRET = "s3cret"
DOMAIN = "example.com"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcStandIn]:
    with serve_in_thread(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


@pytest_asyncio.fixture
async def client(
    ic_settings: InvoiceCheckerSettings, provider: OidcStandIn, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ic_settings.model_copy(
        update={
            "oidc_issuer_url": provider.issuer,
            "google_client_id": CLIENT_ID,
            "google_client_secret": SecretStr(CLIENT_SECRET),
            "allowed_domain": DOMAIN,
            "session_secret": SecretStr("test-session-secret"),
            "cookie_secure": False,  # the test client speaks plain http
        }
    )
    async with app_client(create_app(settings), db_session) as running:
        yield running


async def sign_in(
    client: httpx.AsyncClient, email: str, next_path: str = "/docs"
) -> httpx.Response:
    """Follow the browser's round trip: app -> provider -> app callback."""
    login = await client.get("/api/v1/auth/login", params={"next": next_path})
    assert login.status_code == 302, login.text
    authorize = login.headers["location"]
    async with httpx.AsyncClient() as browser:
        # httpx's params= would replace the query, so append the hint.
        answer = await browser.get(f"{authorize}&{urlencode({'login_hint': email})}")
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    return await client.get(f"{back.path}?{back.query}")


async def test_sign_in_sets_a_secure_session_and_scripts_get_tokens(
    client: httpx.AsyncClient, provider: OidcStandIn
) -> None:
    email = f"pat.{uuid.uuid4().hex[:8]}@{DOMAIN}"
    done = await sign_in(client, email, next_path="/api/v1/auth/me")
    assert done.status_code == 302, done.text
    assert done.headers["location"] == "/api/v1/auth/me"
    cookie = done.headers["set-cookie"]
    assert "ic_session=ics_" in cookie
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert provider.issued[-1]["email"] == email

    me = await client.get("/api/v1/auth/me")
    assert me.json()["email"] == email
    assert me.json()["groups"] == ["employee"]

    # A cookie-authenticated write needs our own Origin (CSRF guard); then it works.
    blocked = await client.post("/api/v1/auth/tokens", json={"name": "script"})
    assert blocked.status_code == 403
    origin = {"Origin": "http://testserver"}
    created = await client.post("/api/v1/auth/tokens", json={"name": "script"}, headers=origin)
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("ict_")

    client.cookies.clear()
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).json()["email"] == email
    listed = await client.get("/api/v1/auth/tokens", headers=bearer(token))
    assert [t["name"] for t in listed.json()] == ["script"]
    assert "token" not in listed.json()[0]
    revoked = await client.delete(
        f"/api/v1/auth/tokens/{created.json()['id']}", headers=bearer(token)
    )
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    await sign_in(client, f"lou@{DOMAIN}")
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    session_cookie = client.cookies["ic_session"]
    out = await client.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"})
    assert out.status_code == 204
    client.cookies.set("ic_session", session_cookie)
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_accounts_of_other_domains_are_refused(client: httpx.AsyncClient) -> None:
    refused = await sign_in(client, "mallory@example.org")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "ic_session" not in client.cookies


async def test_a_forged_or_replayed_callback_is_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/auth/callback?code=x&state=y")).status_code == 400
    login = await client.get("/api/v1/auth/login")
    authorize = login.headers["location"]
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(authorize)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    wrong_state = await client.get(
        "/api/v1/auth/callback", params={"code": query["code"][0], "state": "other"}
    )
    assert wrong_state.status_code == 400


async def test_open_redirects_are_neutralised(client: httpx.AsyncClient) -> None:
    done = await sign_in(client, f"ned@{DOMAIN}", next_path="//evil.example/steal")
    assert done.headers["location"] == "/docs"


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "someone-else"}, {"iss": "https://evil"}, {"email_verified": False}, {"exp": 1}],
)
async def test_id_tokens_with_bad_claims_are_rejected(
    provider: OidcStandIn, overrides: dict[str, object]
) -> None:
    discovered = await oidc.discover(provider.issuer)
    token = provider.id_token(f"amy@{DOMAIN}", nonce="n1", **overrides)
    with pytest.raises(oidc.SignInError):
        await oidc.verify_id_token(discovered, token, client_id=CLIENT_ID, nonce="n1")
    good = provider.id_token(f"amy@{DOMAIN}", nonce="n1")
    with pytest.raises(oidc.SignInError, match="nonce"):
        await oidc.verify_id_token(discovered, good, client_id=CLIENT_ID, nonce="other")
    identity = await oidc.verify_id_token(discovered, good, client_id=CLIENT_ID, nonce="n1")
    assert identity.email == f"amy@{DOMAIN}"


async def test_sign_in_is_refused_clearly_when_not_configured(
    ic_client: httpx.AsyncClient,
) -> None:
    response = await ic_client.get("/api/v1/auth/login")
    assert response.status_code == 503
    assert "INVOICE_CHECKER_GOOGLE_CLIENT_ID" in response.json()["detail"]


async def test_bearer_errors_are_401_problems(ic_client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("ict_unknown")):
        response = await ic_client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"


async def test_tokens_are_stored_hashed(db_session: AsyncSession) -> None:
    token = await make_token(db_session, "finance")
    from sqlalchemy import text

    stored = (
        (
            await db_session.execute(
                text("SELECT secret_sha256 FROM invoice_checker.auth_credentials")
            )
        )
        .scalars()
        .all()
    )
    assert all(token.encode() not in bytes(value) for value in stored)
    principal = await principal_for_secret(db_session, token, kind="api")
    assert principal is not None and principal.groups == ("finance",)


async def test_create_token_command(
    database_url: str, redis_url: str, db_session: AsyncSession
) -> None:
    email = f"Carol.{uuid.uuid4().hex[:8]}@example.com"
    env = {"INVOICE_CHECKER_DATABASE_URL": database_url, "INVOICE_CHECKER_REDIS_URL": redis_url}
    runner = CliRunner()
    result = await _invoke(runner, ["create-token", "--email", email, "--group", "finance"], env)
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    principal = await principal_for_secret(db_session, token, kind="api")
    assert principal is not None
    assert (principal.email, principal.groups) == (email.lower(), ("finance",))
    again = await _invoke(runner, ["create-token", "--email", email, "--group", "admin"], env)
    second = await principal_for_secret(
        db_session, again.output.strip().splitlines()[-1], kind="api"
    )
    assert second is not None and second.groups == ("admin", "finance")
    bad = await _invoke(runner, ["create-token", "--email", email, "--group", "wizard"], env)
    assert bad.exit_code == 2


async def _invoke(runner: CliRunner, args: list[str], env: dict[str, str]) -> Result:
    import asyncio

    # The command runs its own event loop, so it goes to a thread.
    return await asyncio.to_thread(runner.invoke, cli, args, env=env)


def test_the_principal_cache_forgets_after_its_ttl_and_on_clear() -> None:
    someone = Principal(1, "a@example.com", ("finance",), permissions_of(["finance"]))
    expired = PrincipalCache(ttl=-1.0)  # already past
    expired.put("api", "ict_x", someone)
    assert expired.get("api", "ict_x") is None
    cache = PrincipalCache(ttl=60.0)
    cache.put("api", "ict_x", someone)
    assert cache.get("api", "ict_x") == someone
    assert cache.get("session", "ict_x") is None  # a token is never taken for a session
    cache.clear()
    assert cache.get("api", "ict_x") is None


async def test_the_access_epoch_is_read_over_the_kept_connection(redis: ArqRedis) -> None:
    kept = KeptRedis(redis)
    try:
        assert await access_epoch(kept) == await redis.get(ACCESS_EPOCH_KEY)
        await access_changed(redis)
        moved = await access_epoch(kept)
        assert moved is not None and moved == await redis.get(ACCESS_EPOCH_KEY)
        await kept.aclose()  # dropped: the next read connects again
        await access_changed(redis)
        assert await access_epoch(kept) == await redis.get(ACCESS_EPOCH_KEY) != moved
    finally:
        await kept.aclose()
