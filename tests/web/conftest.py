"""The web app served for real (uvicorn in a thread) over a month synced from the 10000ft
stand-in, the OpenID Connect stand-in to sign in through, and Debian's Chromium driven by
Playwright. Every page a test visits fails it on a console error or a failed request."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from devtools.simulators.invoice_checker.oidc import OidcStandIn, serve_in_thread
from devtools.simulators.invoice_checker.tenkfeet import TenkfeetWorld
from invoice_checker.jobs.sync import sync_hours, sync_projects, sync_users
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.auth import ensure_user
from tests.invoice_checker.sync_support import TOKEN as TENKFEET_TOKEN
from tests.invoice_checker.sync_support import (
    end_to_end_vector,
    in_process_client,
    served,
    truncate_sync_tables,
    vector_world,
)
from tests.support.apps import served_over_http
from tests.support.system_tools import require_tool

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "screenshots"
CLIENT_ID = "invoice-checker-web-test"
CLIENT_SECRET = "web-test-secret"
DOMAIN = "example.com"

# Who signs in, and the groups the test gives them (the sync makes Bob a lead of ACME's project).
TEAM_LEAD = "bob.builder@example.com"
OTHER_LEAD = "carol.coder@example.com"
FINANCE = "fiona.finance@example.com"
EMPLOYEE = "eddie.employee@example.com"
GROUPS = {TEAM_LEAD: ["team-lead"], FINANCE: ["finance"], EMPLOYEE: ["employee"]}


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_tool("chromium", "chromium")


@pytest.fixture(scope="session")
def provider() -> Iterator[OidcStandIn]:
    with serve_in_thread(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, default_email=TEAM_LEAD
    ) as running:
        yield running


@pytest.fixture(scope="session")
def tenkfeet_world() -> TenkfeetWorld:
    """The 10000ft account the month is synced from, and the app submits hours to."""
    return vector_world(end_to_end_vector())


@pytest.fixture(scope="session")
def tenkfeet_url(tenkfeet_world: TenkfeetWorld) -> Iterator[str]:
    with served(tenkfeet_world) as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def synced_month(
    engine: AsyncEngine, tenkfeet_world: TenkfeetWorld
) -> AsyncIterator[dict[str, Any]]:
    """The golden vector's users, projects and hours, synced through the real client."""
    await truncate_sync_tables(engine)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    vector = end_to_end_vector()
    sync_range = vector["inputs"]["sync_range"]
    async with in_process_client(tenkfeet_world) as client:
        await sync_users(maker, client)
        await sync_projects(maker, client)
        await sync_hours(
            maker,
            client,
            date.fromisoformat(sync_range["start_date"]),
            date.fromisoformat(sync_range["end_date"]),
        )
    async with maker() as session:
        for email, groups in GROUPS.items():
            await ensure_user(session, email, groups=groups)
        await session.commit()
    yield vector
    await truncate_sync_tables(engine)


@pytest.fixture(scope="session")
def web_url(
    synced_month: dict[str, Any],
    provider: OidcStandIn,
    database_url: str,
    redis_url: str,
    tenkfeet_url: str,
) -> Iterator[str]:
    settings = InvoiceCheckerSettings(
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        oidc_issuer_url=provider.issuer,
        google_client_id=CLIENT_ID,
        google_client_secret=SecretStr(CLIENT_SECRET),
        allowed_domain=DOMAIN,
        session_secret=SecretStr("web-test-session-secret-of-32-bytes!"),
        cookie_secure=False,  # plain http on 127.0.0.1
        tenkfeet_api_url=tenkfeet_url,
        tenkfeet_api_token=SecretStr(TENKFEET_TOKEN),
        tenkfeet_max_retries=1,
    )
    with served_over_http(create_app(settings), "the invoice checker") as url:
        yield url


@dataclass
class PageProblems:
    """Console errors and failed requests seen by a page; `expect` allows one refusal."""

    seen: list[str] = field(default_factory=list)
    allowed: set[tuple[str, int]] = field(default_factory=set)

    def response(self, url: str, status: int) -> None:
        if status >= 400 and (url, status) not in self.allowed:
            self.seen.append(f"HTTP {status} {url}")

    def failed(self, request: Any) -> None:
        # A request the browser itself cancelled because the test moved on (a favicon still
        # loading when the next page opens) is no failure of the app; anything else is.
        if request.failure != "net::ERR_ABORTED":
            self.seen.append(f"failed {request.url}: {request.failure}")

    def console(self, kind: str, text: str) -> None:
        # Chromium logs a refusal page we asked for as a failed resource; that one is expected.
        refused = re.search(r"status of (\d{3})", text)
        expected = refused and int(refused.group(1)) in {status for _, status in self.allowed}
        if kind == "error" and not expected:
            self.seen.append(f"console {kind}: {text}")


@pytest_asyncio.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            await launched.close()


class Person:
    """A browser context of its own (its own cookies) and the problems its pages met."""

    def __init__(self, page: Any, problems: PageProblems) -> None:
        self.page = page
        self.problems = problems

    async def shot(
        self, name: str, *, width: int | None = None, height: int = 800, full_page: bool = True
    ) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if width:
            await self.page.set_viewport_size({"width": width, "height": height})
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
        if width:
            await self.page.set_viewport_size({"width": 1280, "height": 900})

    def assert_clean(self) -> None:
        assert self.problems.seen == [], self.problems.seen


@pytest_asyncio.fixture
async def open_person(browser: Any, web_url: str) -> AsyncIterator[Any]:
    opened: list[Person] = []

    async def open_one() -> Person:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = await context.new_page()
        problems = PageProblems()
        page.on("console", lambda message: problems.console(message.type, message.text))
        page.on("requestfailed", problems.failed)
        page.on("response", lambda response: problems.response(response.url, response.status))
        page.on("pageerror", lambda error: problems.seen.append(f"page error {error}"))
        person = Person(page, problems)
        opened.append(person)
        return person

    yield open_one
    for person in opened:
        await person.page.context.close()
    for person in opened:
        person.assert_clean()
