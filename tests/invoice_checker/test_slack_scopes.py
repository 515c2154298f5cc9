"""Slack under issue 12: an unfurl shows only what the person who shared the link may see (else a
neutral "sign in to view"), a replayed signed request is refused, `/flex-hours` answers with the
caller's own saldo, and names from 10000ft cannot inject mentions or links."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.api.flex import local_today
from invoice_checker.domain.slack_messages import (
    InvoiceCard,
    NewProject,
    ProjectCard,
    UnapprovedProject,
    invoice_unfurl,
    new_project_text,
    project_unfurl,
    unapproved_attachment,
)
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.slack import SlackSimulator
from tests.invoice_checker.directory_factories import (
    make_client,
    make_invoice,
    make_project,
    make_user,
)
from tests.invoice_checker.invoice_factories import lead_token, make_token
from tests.invoice_checker.slack_support import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    command_body,
    signed_headers,
    slack_settings_fixture,
    slack_standin_fixture,
)
from tests.invoice_checker.test_flex_api import store_scenario
from tests.invoice_checker.test_slack_api import FULL_TIME
from tests.support.apps import app_client

EVENTS = "/api/v1/slack/events"
COMMAND = "/api/v1/slack/flex-hours"
SIGN_IN = "Sign in to view."
INJECTION = "Web> <!everyone> <https://evil.example|click> & more"


@pytest_asyncio.fixture
async def client(
    slack_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(slack_settings)
    app.dependency_overrides[local_today] = lambda: date(2018, 3, 15)
    async with app_client(app, db_session) as running:
        yield running


async def _unfurls_for(
    client: httpx.AsyncClient, slack: SlackSimulator, sharer: str, links: list[str]
) -> dict[str, Any]:
    ts = f"1518.{len(slack.calls):06d}"
    event = {
        "type": "event_callback",
        "event": {
            "type": "link_shared",
            "user": sharer,
            "channel": "C123",
            "message_ts": ts,
            "links": [{"domain": "finance.example.com", "url": url} for url in links],
        },
    }
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", **signed_headers(body)}
    assert (await client.post(EVENTS, content=body, headers=headers)).text == "ok"
    [call] = [c for c in slack.calls if c.method == "chat.unfurl" and c.args["ts"] == ts]
    unfurls: dict[str, Any] = call.args["unfurls"]
    return unfurls


async def test_unfurls_show_only_what_the_sharer_may_see(
    client: httpx.AsyncClient, db_session: AsyncSession, slack_standin: SlackSimulator
) -> None:
    alice = await store_scenario(db_session, FULL_TIME.inputs)  # an employee with flex
    alice.slack_id = "UALICE"
    await make_token(db_session, "employee", alice.email)
    portal = await make_project(db_session, "Portal", client=await make_client(db_session, "Acme"))
    other = await make_project(db_session, "Other", client=await make_client(db_session, "Beta"))
    invoice = await make_invoice(db_session, portal, date(2018, 2, 1))
    invoice.incurred_money = 1234
    for slack_id, project in (("ULEAD", portal), ("UOTHERLEAD", other)):
        person = await make_user(db_session, email=f"{slack_id.lower()}@example.com")
        person.slack_id = slack_id
        await lead_token(db_session, project, email=person.email)
    await db_session.flush()
    flex = f"{PUBLIC_URL}/users/{alice.guid}/flexhours"
    invoice_link = f"{PUBLIC_URL}/invoices/{invoice.id}"
    project_link = f"{PUBLIC_URL}/projects/{portal.guid}"
    links = [flex, invoice_link, project_link]

    def shown(unfurls: dict[str, Any]) -> dict[str, bool]:
        return {url: unfurls[url].get("text") != SIGN_IN for url in links}

    # A guest (no synced Slack id) and a lead of another project see nothing but the neutral card.
    for sharer in ("UGUEST", "UOTHERLEAD"):
        unfurls = await _unfurls_for(client, slack_standin, sharer, links)
        assert shown(unfurls) == dict.fromkeys(links, False), sharer
        assert "1234" not in json.dumps(unfurls)
    # Alice sees her own saldo, not the invoice's money.
    unfurls = await _unfurls_for(client, slack_standin, "UALICE", links)
    assert shown(unfurls) == {flex: True, invoice_link: False, project_link: False}
    assert unfurls[flex]["text"].startswith("Flex saldo for Alice Admin")
    # The project's lead sees its invoice and project, not Alice's saldo.
    unfurls = await _unfurls_for(client, slack_standin, "ULEAD", links)
    assert shown(unfurls) == {flex: False, invoice_link: True, project_link: True}
    fields = {f["title"]: f["value"] for f in unfurls[invoice_link]["fields"]}
    assert fields["Incurred billing"] == "1234.00€"


async def test_a_replayed_signed_request_is_refused(client: httpx.AsyncClient) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "replay-me"}).encode()
    headers = {"Content-Type": "application/json", **signed_headers(body)}
    first = await client.post(EVENTS, content=body, headers=headers)
    assert (first.status_code, first.text) == (200, "replay-me")
    again = await client.post(EVENTS, content=body, headers=headers)
    assert again.status_code == 401
    assert again.json()["type"] == "urn:problem:slack-signature"


async def test_flex_hours_answers_with_the_callers_own_saldo(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    alice = await store_scenario(db_session, FULL_TIME.inputs)
    alice.slack_id = "UALICE"
    bob = await make_user(db_session, "Bob", "Other")
    bob.slack_id = "UBOB"
    await db_session.flush()
    form = command_body(user_id="UBOB", text="<@UALICE|alice>")
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(form)}
    response = await client.post(COMMAND, content=form, headers=headers)
    assert response.status_code == 200
    assert "Alice" not in json.dumps(response.json())
    assert response.json()["text"] == "It seems you don't have flex saldo activated right now."


def _no_injection(text: str) -> None:
    assert "<!everyone>" not in text and "<https://evil" not in text
    assert "Web&gt; &lt;!everyone&gt; &lt;https://evil.example|click&gt; &amp; more" in text


def test_names_from_10000ft_are_escaped_in_every_bot_message() -> None:
    announcement = new_project_text(NewProject(7, "A&B", INJECTION, None))
    assert announcement.startswith("<!channel> Hi! New project was added: <https://")
    _no_injection(announcement)
    assert "|A&amp;B - " in announcement
    card = InvoiceCard("id", "Acme", INJECTION, date(2026, 10, 1), "Created", [INJECTION], 1, 2, 0)
    invoice = invoice_unfurl(card, "https://x")
    _no_injection(invoice["title"])
    _no_injection(invoice["fields"][1]["value"])
    project = project_unfurl(
        ProjectCard("Acme", INJECTION, INJECTION, None, None, INJECTION, [card]), "u", "p"
    )
    for text in (project["title"], project["text"], project["fields"][-1]["value"]):
        _no_injection(text)
    notice = unapproved_attachment(UnapprovedProject("g", 1, "Acme", INJECTION, 1, 1, 1), "p")
    _no_injection(notice["title"])
