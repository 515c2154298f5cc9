"""Classic SQL-injection strings in every query parameter of every GET route of both OpenAPI
documents (walked, so new routes and filters are covered without editing this test), sent by an
admin: never a 5xx, never more or other results than a filter that cannot match, and every table
still there with the same rows afterwards."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.store.directory import TenkfeetUser
from licence_gateway.store.payloads import LicencePayload
from tests.invoice_checker.invoice_factories import (
    add_entries,
    bearer,
    entry_values,
    make_invoice,
    make_project,
    make_token,
)
from tests.security.support import (
    ADMIN_TOKEN,
    checker_settings,
    fill_path,
    gateway_settings,
    operations,
    running_checker,
    running_gateway,
)

INJECTIONS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    '" OR ""="',
    "') OR ('1'='1",
    "1 OR 1=1",
    "1; DROP TABLE invoice_checker.invoices; --",
    "1; DROP TABLE licence_gateway.licence_payloads; --",
    "' UNION SELECT NULL, NULL, NULL --",
    "%' --",
    "%",
    "_",
    "\\",
    "$$; DELETE FROM invoice_checker.projects; $$",
    "\u2019 OR 1=1 --",  # right single quotation mark
    "\uff07 OR 1=1 --",  # fullwidth apostrophe
    "\u02bc OR 1=1 --",  # modifier letter apostrophe
    "\x00",
    "x\x00' OR 1=1 --",
    "' AND pg_sleep(5) --",
]
IMPOSSIBLE = "no-such-value-zq7"


def result_of(response: httpx.Response) -> tuple[int, Any]:
    """What a caller learns: the status, and the number of items (or the whole JSON answer)."""
    if response.status_code != 200:
        return response.status_code, None
    if "json" not in response.headers.get("content-type", ""):
        return 200, response.content
    body = response.json()
    if isinstance(body, list):
        return 200, len(body)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return 200, len(body["items"])
    return 200, body


async def table_rows(session: AsyncSession) -> dict[str, int]:
    names = await session.scalars(
        text(
            "SELECT schemaname || '.' || tablename FROM pg_tables"
            " WHERE schemaname IN ('invoice_checker', 'licence_gateway') ORDER BY 1"
        )
    )
    counts = {}
    for name in names:
        counts[name] = await session.scalar(text(f"SELECT count(*) FROM {name}"))
    return counts


async def probe(
    client: httpx.AsyncClient, headers: dict[str, str], values: dict[str, str]
) -> tuple[int, list[str]]:
    """Try every injection in every query parameter; return the count of requests and what
    went wrong."""
    schema = (await client.get("/openapi.json")).json()
    wrong: list[str] = []
    sent = 0
    for method, template, operation in operations(schema):
        params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        if method != "GET" or not params:
            continue
        path = fill_path(template, values)
        for param in params:
            baseline = result_of(
                await client.get(path, params={param: IMPOSSIBLE}, headers=headers)
            )
            for attack in INJECTIONS:
                response = await client.get(path, params={param: attack}, headers=headers)
                sent += 1
                got = result_of(response)
                # A refusal tells nothing; 503 whatever the input is a feature not configured here
                # (sign-in). An answer must be what a filter that cannot match gets.
                status = response.status_code
                not_configured = status == 503 and baseline == (503, None)
                server_error = status >= 500 and not not_configured
                if server_error or (status < 400 and got != baseline):
                    wrong.append(f"{template}?{param}={attack!r}: {got} vs {baseline}")
    return sent, wrong


async def test_no_injection_in_the_invoice_checker(
    database_url: str, redis_url: str, db_session: AsyncSession
) -> None:
    project = await make_project(db_session, name="Webshop")
    invoice = await make_invoice(db_session, project, date(2026, 9, 1))
    user = TenkfeetUser(
        guid=uuid.uuid4(),
        user_id=uuid.uuid4().int % 10**8,
        email=f"injected.{uuid.uuid4().hex[:6]}@example.com",
        created_at=datetime(2017, 1, 1, tzinfo=UTC),
    )
    db_session.add(user)
    await add_entries(db_session, invoice, entry_values(invoice), entry_values(invoice))
    headers = bearer(await make_token(db_session, "admin"))
    before = await table_rows(db_session)
    values = {
        "invoice_id": str(invoice.id),
        "project_guid": str(project.guid),
        "user_guid": str(user.guid),
        "client_id": str(project.client_id),
    }
    async with running_checker(checker_settings(database_url, redis_url), db_session) as client:
        sent, wrong = await probe(client, headers, values)
    assert wrong == [], "\n".join(wrong)
    assert sent >= 20 * len(INJECTIONS)
    print(f"security sql-injection invoice-checker: requests={sent} wrong=0")
    assert await table_rows(db_session) == before


async def test_no_injection_in_the_gateway(
    database_url: str, redis_url: str, db_session: AsyncSession
) -> None:
    db_session.add(
        LicencePayload(
            icms_id=uuid.uuid4(),
            action="insert",
            reference="GBSIEL/2026/0000001/P",
            licence_type="SIEL",
            data={},
        )
    )
    await db_session.flush()
    before = await table_rows(db_session)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    settings = gateway_settings(database_url, redis_url)
    async with running_gateway(settings, db_session) as client:
        sent, wrong = await probe(client, headers, {})
    assert wrong == [], "\n".join(wrong)
    assert sent >= 10 * len(INJECTIONS)
    print(f"security sql-injection licence-gateway: requests={sent} wrong=0")
    assert await table_rows(db_session) == before


async def test_regressions_found_by_the_probe(
    database_url: str, redis_url: str, db_session: AsyncSession
) -> None:
    """Each was a 500 or a wrong answer before: NUL in a filter failed the query in PostgreSQL,
    a person's `month` skipped its pattern check, and `%`/`_` in a project search matched all."""
    marker = uuid.uuid4().hex[:8]
    await make_project(db_session, name=f"Webshop {marker}", client="Shop Oy")
    literal = await make_project(db_session, name="100% uptime", client="Ops_Team Oy")
    headers = bearer(await make_token(db_session, "admin"))
    async with running_checker(checker_settings(database_url, redis_url), db_session) as client:
        nul = await client.get("/api/v1/invoices", params={"tag": "a\x00b"}, headers=headers)
        assert nul.status_code == 400
        assert nul.headers["content-type"] == "application/problem+json"
        person = f"/api/v1/users/{uuid.uuid4()}"
        month = await client.get(person, params={"month": "' OR 1=1 --"}, headers=headers)
        assert month.status_code == 422
        for q in ("%", "0% up", "s_team"):
            found = await client.get("/api/v1/projects", params={"q": q}, headers=headers)
            assert [p["guid"] for p in found.json()] == [str(literal.guid)], q
        shop = await client.get("/api/v1/projects", params={"q": marker.upper()}, headers=headers)
        assert [p["name"] for p in shop.json()] == [f"Webshop {marker}"]
