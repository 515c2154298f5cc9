"""Slack's calls to us: signatures refused unless valid and fresh (401), URL verification,
the /flex-hours command (vector replies; no 500 for a contract gap, 15.16) and link unfurls
posted to the Slack stand-in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.api.flex import local_today
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.slack import SlackSimulator
from invoice_checker.store.directory import ProjectAdmin
from invoice_checker.store.flex import WorkContract
from tests.invoice_checker.directory_factories import (
    make_client,
    make_invoice,
    make_project,
    make_user,
)
from tests.invoice_checker.flex_vectors import VECTORS, flex_cases
from tests.invoice_checker.invoice_factories import make_token
from tests.invoice_checker.slack_support import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    WORKSPACE_TOKEN,
    command_body,
    signed_headers,
    slack_settings_fixture,
    slack_standin_fixture,
)
from tests.invoice_checker.test_flex_api import store_scenario
from tests.support.apps import app_client

COMMAND = "/api/v1/slack/flex-hours"
EVENTS = "/api/v1/slack/events"
TODAY = date(2018, 3, 15)


@pytest_asyncio.fixture
async def client(
    slack_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(slack_settings)
    app.dependency_overrides[local_today] = lambda: TODAY
    async with app_client(app, db_session) as client:
        yield client


async def post_signed(
    client: httpx.AsyncClient, url: str, body: bytes, content_type: str, *, age: int = 0
) -> httpx.Response:
    headers = {"Content-Type": content_type, **signed_headers(body, age=age)}
    return await client.post(url, content=body, headers=headers)


def _event(body: Mapping[str, object]) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize("url", [COMMAND, EVENTS])
async def test_unsigned_forged_stale_and_tampered_requests_are_401(
    client: httpx.AsyncClient, url: str
) -> None:
    # Its own body per url: the same body signed in the same second would be a replay.
    body = _event({"type": "url_verification", "challenge": url})
    unsigned = await client.post(url, content=body)
    forged = await client.post(
        url, content=body, headers=signed_headers(body, secret="not-the-secret")
    )
    stale = await client.post(url, content=body, headers=signed_headers(body, age=301))
    future = await client.post(url, content=body, headers=signed_headers(body, age=-301))
    tampered = await client.post(url, content=body + b" ", headers=signed_headers(body))
    for response in (unsigned, forged, stale, future, tampered):
        assert response.status_code == 401
        assert response.json()["type"] == "urn:problem:slack-signature"
    fresh = await client.post(url, content=body, headers=signed_headers(body, age=299))
    assert fresh.status_code != 401


async def test_without_a_signing_secret_slack_calls_say_it_is_not_configured(
    slack_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> None:
    settings = slack_settings.model_copy(update={"slack_signing_secret": SecretStr("")})
    async with app_client(create_app(settings), db_session) as client:
        body = _event({"type": "url_verification", "challenge": "c"})
        response = await client.post(EVENTS, content=body, headers=signed_headers(body))
    assert response.status_code == 503
    assert "INVOICE_CHECKER_SLACK_SIGNING_SECRET" in response.json()["detail"]


async def test_url_verification_echoes_the_challenge(client: httpx.AsyncClient) -> None:
    body = _event({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"})
    response = await post_signed(client, EVENTS, body, "application/json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "3eZbrw1aBm2rZgRNFdxV2595E9CY"


@pytest.mark.parametrize(
    "body", [b"{}", b'{"type": "event_callback"}', b"not json", b"[1, 2]", b'{"event": 5}']
)
async def test_bodies_without_challenge_or_event_are_400_not_500(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await post_signed(client, EVENTS, body, "application/json")
    assert response.status_code == 400
    assert response.json()["type"] == "urn:problem:slack-request"


async def test_other_events_are_acknowledged(
    client: httpx.AsyncClient, slack_standin: SlackSimulator
) -> None:
    body = _event({"type": "event_callback", "event": {"type": "app_mention", "text": "hi"}})
    response = await post_signed(client, EVENTS, body, "application/json")
    assert response.text == "ok"
    assert slack_standin.calls == []


FULL_TIME = next(c.values[0] for c in flex_cases() if c.values[0].name == "full_time_basic")


async def test_slash_command_answers_like_the_vector(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await store_scenario(db_session, FULL_TIME.inputs)
    user.slack_id = "UALICE"
    await db_session.flush()
    response = await post_signed(
        client, COMMAND, command_body(user_id="UALICE"), "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    body = response.json()
    expected = json.loads(VECTORS.read_text())["scenarios"][0]["results"][0]["slack_flex_response"]
    assert body["response_type"] == "ephemeral"
    assert body["text"] == expected["text"]
    attachment = body["attachments"][0]
    assert attachment["fields"] == expected["attachment"]["fields"]
    expected_actions = [
        {**a, "url": a["url"].replace("11111111-1111-1111-1111-111111111111", str(user.guid))}
        for a in expected["attachment"]["actions"]
    ]
    assert attachment["actions"] == expected_actions
    assert attachment["actions"][0]["url"].startswith(PUBLIC_URL)


async def test_slash_command_for_a_contract_gap_is_an_answer_not_a_500(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, slack_id="UGAP")
    db_session.add_all(
        [
            WorkContract(
                user_guid=user.guid, start_date=date(2018, 1, 1), end_date=date(2018, 1, 31)
            ),
            WorkContract(
                user_guid=user.guid, start_date=date(2018, 2, 5), end_date=date(2018, 12, 31)
            ),
        ]
    )
    await db_session.flush()
    response = await post_signed(
        client, COMMAND, command_body(user_id="UGAP"), "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "Hour markings for 2018-02-01" in response.json()["text"]


async def test_slash_command_for_unknown_archived_and_inactive_people(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await make_user(db_session, "Old", "Timer", slack_id="UOLD", archived=True)
    await make_user(db_session, "No", "Contract", slack_id="UNONE")
    form = "application/x-www-form-urlencoded"
    texts = {}
    for slack_id in ("UNKNOWN", "UOLD", "UNONE"):
        response = await post_signed(client, COMMAND, command_body(user_id=slack_id), form)
        assert response.status_code == 200
        texts[slack_id] = response.json()["text"]
    assert texts == {
        "UNKNOWN": "Sorry, unable to fetch your flex saldo - user ID not found.",
        "UOLD": "You have been archived from 10000ft.",
        "UNONE": "It seems you don't have flex saldo activated right now.",
    }
    missing = await post_signed(client, COMMAND, command_body(), form)
    assert missing.status_code == 400


async def test_link_unfurls_are_posted_to_slack(
    client: httpx.AsyncClient, db_session: AsyncSession, slack_standin: SlackSimulator
) -> None:
    user = await store_scenario(db_session, FULL_TIME.inputs)
    lead = await make_user(db_session, "Lena", "Lead")
    project = await make_project(
        db_session, "Portal", client=await make_client(db_session, "Acme"), description="Web"
    )
    db_session.add(ProjectAdmin(project_guid=project.guid, user_guid=lead.guid))
    invoice = await make_invoice(db_session, project, date(2018, 2, 1))
    invoice.incurred_hours, invoice.incurred_money, invoice.incorrect_entries_count = 10, 1000, 2
    await make_user(db_session, "Fiona", "Finance", email="fiona@example.com", slack_id="UFIONA")
    await make_token(db_session, "admin", "fiona@example.com")
    await db_session.flush()
    links = {
        "flex": f"{PUBLIC_URL}/users/{user.guid}/flexhours",
        "invoice": f"{PUBLIC_URL}/invoices/{invoice.id}",
        "project": f"{PUBLIC_URL}/projects/{project.guid}",
        "no_user": f"{PUBLIC_URL}/users/00000000-0000-0000-0000-000000000000/flexhours",
        "no_invoice": f"{PUBLIC_URL}/invoices/00000000-0000-0000-0000-000000000000",
        "elsewhere": f"{PUBLIC_URL}/somewhere/else",
    }
    event = {
        "type": "event_callback",
        "event": {
            "type": "link_shared",
            "user": "UFIONA",  # who shared the links: an admin sees them all
            "channel": "C123",
            "message_ts": "1518.000200",
            "links": [{"domain": "finance.example.com", "url": url} for url in links.values()],
        },
    }
    response = await post_signed(client, EVENTS, _event(event), "application/json")
    assert response.text == "ok"
    [call] = [c for c in slack_standin.calls if c.method == "chat.unfurl"]
    assert call.token == WORKSPACE_TOKEN
    assert call.args["channel"] == "C123" and call.args["ts"] == "1518.000200"
    unfurls = call.args["unfurls"]
    assert set(unfurls) == set(links.values()) - {links["elsewhere"]}
    assert unfurls[links["flex"]]["text"] == "Flex saldo for Alice Admin is -13.50h"
    assert unfurls[links["flex"]]["is_app_unfurl"] is True
    assert unfurls[links["no_user"]] == {"text": "404 - User does not exist"}
    assert unfurls[links["no_invoice"]] == {"text": "404 - this invoice does not exist"}
    card = unfurls[links["invoice"]]
    assert card["title"] == "Solinor Invoice - Acme - Portal - 2018-02"
    assert {f["title"]: f["value"] for f in card["fields"]} == {
        "Invoice state": "Created",
        "Tags": "Lena Lead",
        "Incurred hours": "10.00h",
        "Incurred billing": "1000.00€",
        "Incorrect hour entries": 2,
    }
    project_card = unfurls[links["project"]]
    assert project_card["title"] == "Solinor project - Acme Portal"
    assert project_card["text"] == (
        f"Web\n\n- <{PUBLIC_URL}/invoices/{invoice.id}|2018-02 - 10.00h - 1000.00€ - Created>"
    )
    fields = {f["title"]: f["value"] for f in project_card["fields"]}
    assert fields["Start date"] == "-"  # no dates: the original crashed here


async def test_flex_links_lead_to_the_flex_page(client: httpx.AsyncClient) -> None:
    """The Slack flex links open the page (sign-in first when signed out), not raw JSON."""
    guid = "11111111-1111-1111-1111-111111111111"
    response = await client.get(f"/users/{guid}/flexhours")
    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next=%2Fusers%2F{guid}%2Fflexhours"
