"""The web app's guards, over HTTP: security headers, CSRF tokens, sign-in redirects with the
login hint, refusals as HTML pages, and the invoice list's filters (the browser tests in
tests/web walk the pages themselves)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.permissions import Principal, permissions_of
from invoice_checker.domain.scopes import Scope
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.oidc import serve_in_thread
from invoice_checker.store.auth import ensure_user, issue_credential
from invoice_checker.store.invoice_list import InvoiceFilters, invoice_page, invoice_totals
from tests.invoice_checker.invoice_factories import lead_token, make_invoice, make_project
from tests.support.apps import app_client

ORIGIN = {"Origin": "http://testserver"}


def _settings(ic_settings: InvoiceCheckerSettings, **changes: object) -> InvoiceCheckerSettings:
    return ic_settings.model_copy(
        update={
            "google_client_id": "web-client",
            "google_client_secret": SecretStr("web-secret"),
            "allowed_domain": "example.com",
            "session_secret": SecretStr("a-session-secret-for-the-page-tests"),
            "cookie_secure": False,
            **changes,
        }
    )


@pytest_asyncio.fixture
async def web(
    ic_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(_settings(ic_settings)), db_session) as client:
        yield client


async def signed_in(client: httpx.AsyncClient, session: AsyncSession, *groups: str) -> str:
    email = f"{'-'.join(groups) or 'nobody'}@example.com"
    user = await ensure_user(session, email, groups=list(groups))
    _, secret = await issue_credential(session, user, kind="session", name="browser")
    client.cookies.set("ic_session", secret)
    return email


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found, "the page has no CSRF field"
    return found[1]


async def test_pages_send_security_headers_and_the_api_keeps_its_own(
    web: httpx.AsyncClient,
) -> None:
    page = await web.get("/sign-in")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in page.headers  # COOKIE_SECURE is off
    assert "Sign in" in page.text
    api = await web.get("/api/v1/auth/me")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"
    assert "content-security-policy" not in api.headers  # Swagger at /docs loads its scripts


async def test_hsts_when_cookies_are_secure(
    ic_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> None:
    app = create_app(_settings(ic_settings, cookie_secure=True))
    async with app_client(app, db_session) as client:
        page = await client.get("/sign-in")
    assert page.headers["strict-transport-security"].startswith("max-age=")


async def test_signed_out_pages_redirect_to_sign_in_and_the_hint_reaches_the_provider(
    ic_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> None:
    with serve_in_thread(client_id="web-client", client_secret="web-secret") as provider:
        app = create_app(_settings(ic_settings, oidc_issuer_url=provider.issuer))
        async with app_client(app, db_session) as client:
            page = await client.get("/invoices?month=2026-10")
            assert page.status_code == 303
            assert page.headers["location"] == "/sign-in?next=%2Finvoices%3Fmonth%3D2026-10"

            hinted = await client.get(
                "/sign-in", params={"login_hint": "pia@example.com", "next": "/invoices"}
            )
            assert hinted.status_code == 303
            login = await client.get(hinted.headers["location"])
            assert login.status_code == 302
            query = parse_qs(urlsplit(login.headers["location"]).query)
            assert query["login_hint"] == ["pia@example.com"]
            async with httpx.AsyncClient() as browser:
                answer = await browser.get(login.headers["location"])
            back = urlsplit(answer.headers["location"])
            done = await client.get(f"{back.path}?{back.query}")
            assert done.status_code == 302 and done.headers["location"] == "/invoices"
            assert provider.issued[-1]["email"] == "pia@example.com"

            # Only paths of this site are followed after sign-in.
            evil = await client.get("/sign-in", params={"next": "//evil.example"})
            assert 'href="/api/v1/auth/login?next=%2F"' in evil.text


async def test_forms_need_the_session_csrf_token_and_our_origin(
    web: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await signed_in(web, db_session, "finance")
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 10, 1))
    page = await web.get(f"/invoices/{invoice.id}")
    assert page.status_code == 200
    token = csrf_of(page)
    form = {"action": "approve", "csrf_token": token}
    url = f"/invoices/{invoice.id}/check"

    forged = await web.post(url, data={**form, "csrf_token": "0" * 64}, headers=ORIGIN)
    assert forged.status_code == 403
    assert forged.headers["content-type"].startswith("text/html")
    assert "stale or came from another site" in forged.text
    cross_site = await web.post(url, data=form, headers={"Origin": "http://evil.example"})
    assert cross_site.status_code == 403
    assert (await web.get(f"/invoices/{invoice.id}")).text.count("Unapprove") == 0

    approved = await web.post(url, data=form, headers=ORIGIN)
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/invoices/{invoice.id}?saved=approve#check"
    await db_session.refresh(invoice)
    assert (invoice.invoice_state, invoice.is_approved) == ("A", True)


async def test_a_team_lead_keeps_finances_invoice_number_when_unapproving(
    web: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """The finance-only fields are not on a lead's form; their values stay as they were."""
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 10, 1))
    await signed_in(web, db_session, "finance")
    token = csrf_of(await web.get(f"/invoices/{invoice.id}"))
    numbered = {"action": "approve", "invoice_number": "N-1", "csrf_token": token}
    assert (
        await web.post(f"/invoices/{invoice.id}/check", data=numbered, headers=ORIGIN)
    ).status_code == 303

    await lead_token(db_session, project, email="team-lead@example.com")  # leads it
    await signed_in(web, db_session, "team-lead")
    page = await web.get(f"/invoices/{invoice.id}")
    assert "Invoice number" not in page.text and "Unapprove" in page.text
    form = {"action": "unapprove", "invoice_number": "forged", "csrf_token": csrf_of(page)}
    answer = await web.post(f"/invoices/{invoice.id}/check", data=form, headers=ORIGIN)
    assert answer.status_code == 303
    await db_session.refresh(invoice)
    assert (invoice.invoice_state, invoice.is_approved) == ("P", False)  # the number stayed


async def test_refusals_and_missing_pages_are_html(
    web: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # Signed out, a form post cannot be sent back to sign in: a 401 page with the link.
    unsigned = await web.post("/syncs", data={"kind": "users"}, headers=ORIGIN)
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"].startswith("text/html")
    assert 'href="/sign-in?next=%2Fsyncs"' in unsigned.text
    await signed_in(web, db_session, "employee")
    refused = await web.get("/invoices?month=2026-10")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "<h1>Forbidden</h1>" in refused.text
    await signed_in(web, db_session, "finance")
    nothing = "00000000-0000-0000-0000-000000000000"
    for path in ("/no-such-page", "/invoices/not-a-uuid", f"/projects/{nothing}"):
        missing = await web.get(path)
        assert missing.status_code == 404, path
        assert "<h1>Not Found</h1>" in missing.text
    api_missing = await web.get("/api/v1/no-such-thing")
    assert api_missing.headers["content-type"] == "application/problem+json"
    bad = await web.get("/invoices?month=2026-13")
    assert bad.status_code == 422 and "month must be YYYY-MM" in bad.text


async def test_invoice_list_hides_minor_invoices_and_filters_by_lead_and_text(
    db_session: AsyncSession,
) -> None:
    month = date(2031, 5, 1)
    billable = await make_project(db_session, name="Portal", client="Zeta Oy")
    internal = await make_project(db_session, name="Office", client="Zeta Internal")
    internal.project_state = "Internal"
    empty = await make_project(db_session, name="Idle", client="Zeta Two")
    shown = await make_invoice(db_session, billable, month)
    shown.incurred_hours, shown.incurred_money = 10.0, 1000.0
    hidden = await make_invoice(db_session, internal, month)
    hidden.incurred_hours = 5.0
    await make_invoice(db_session, empty, month)
    await db_session.flush()

    finance = Scope.of(Principal(0, "fay@example.com", ("finance",), permissions_of(["finance"])))

    async def names(**filters: object) -> list[str]:
        found = await invoice_page(
            db_session,
            InvoiceFilters(month=month, **filters),  # type: ignore[arg-type]
            "project",
            scope=finance,
            limit=10,
            offset=0,
        )
        rows: list[Any] = list(found.rows)
        return [row[4] for row in rows]

    assert await names() == ["Idle", "Office", "Portal"]
    assert await names(hide_minor=True) == ["Portal"]
    assert await names(text="TWO") == ["Idle"]  # the client's name, any case
    assert await names(text="port") == ["Portal"]  # the project's
    assert await names(lead="nobody@example.com") == []
    totals = await invoice_totals(
        db_session, InvoiceFilters(month=month, hide_minor=True), scope=finance
    )
    assert (totals.invoices, totals.hours, totals.money, totals.bill_rate_avg) == (
        1,
        10.0,
        1000.0,
        100.0,
    )
