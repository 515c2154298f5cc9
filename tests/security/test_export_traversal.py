"""Path traversal against every file export route (found in the OpenAPI by its non-JSON 200
answer): dot segments, encoded and double-encoded, absolute paths, backslashes and NUL in the
id and format segments all get a 4xx and never a file; and the file name offered in
Content-Disposition is safe whatever the client and project are called."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from datetime import date
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.main import create_app
from tests.invoice_checker.invoice_factories import (
    add_entries,
    bearer,
    entry_values,
    make_invoice,
    make_project,
    make_token,
)
from tests.security.support import checker_settings, operations
from tests.support.apps import app_client

ATTACKS = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "csv%00.sh",
    "csv\x00",
    "csv/../../pdf",
    "....//....//etc/passwd",
    "%c0%ae%c0%ae%2f",
]


def export_templates(schema: dict[str, Any]) -> list[str]:
    templates = [
        template
        for method, template, operation in operations(schema)
        if method == "GET"
        and any(
            media != "application/json"
            for media in operation["responses"].get("200", {}).get("content", {})
        )
    ]
    assert templates, "no export route found"
    return templates


async def raw_get(app: FastAPI, raw_path: str, headers: dict[str, str]) -> int:
    """GET a path exactly as written (httpx would resolve the dot segments first), following a
    redirect (a trailing slash) to where it leads."""
    path, _, query = raw_path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "root_path": "",
        "path": unquote(path),
        "raw_path": path.encode("latin-1", "backslashreplace"),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    statuses: list[int] = []
    locations: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
            locations.extend(v.decode() for k, v in message["headers"] if k == b"location")

    await app(scope, receive, send)
    if 300 <= statuses[0] < 400:
        return await raw_get(app, locations[0].removeprefix("http://testserver"), headers)
    return statuses[0]


async def test_traversal_in_every_export_route_is_a_4xx(
    database_url: str, redis_url: str, db_session: AsyncSession
) -> None:
    invoice = await make_invoice(db_session, await make_project(db_session), date(2026, 9, 1))
    await add_entries(db_session, invoice, entry_values(invoice))
    headers = bearer(await make_token(db_session, "admin"))
    app = create_app(checker_settings(database_url, redis_url))
    async with app_client(app, db_session) as client:
        templates = export_templates((await client.get("/openapi.json")).json())
        answers: dict[str, int] = {}
        for template in templates:
            real = {"invoice_id": str(invoice.id), "file_format": "csv"}
            ok = template.format(**real)
            assert (await client.get(ok, headers=headers)).status_code == 200, ok
            for name in real:
                for attack in ATTACKS:
                    path = template.format(**{**real, name: attack})
                    answers[path] = await raw_get(app, path, headers)
            for attack in ATTACKS:  # file-name-ish query parameters are not honoured either
                for param in ("filename", "file", "path", "format"):
                    path = f"{ok}?{param}={attack}"
                    # The ordinary file, the parameter ignored (or 400 for a NUL in the URL).
                    assert await raw_get(app, path, headers) in (200, 400), path
    wrong = {path: status for path, status in answers.items() if not 400 <= status < 500}
    assert wrong == {}
    assert len(answers) >= 2 * len(ATTACKS)
    print(f"security export-traversal: routes={len(templates)} attempts={len(answers)} served=0")


SAFE_NAME = re.compile(r'^attachment; filename="([^"\\/\x00-\x1f]+)"; filename\*=UTF-8\'\'(\S+)$')


async def test_content_disposition_file_names_are_sanitised(
    database_url: str, redis_url: str, db_session: AsyncSession
) -> None:
    project = await make_project(
        db_session,
        name='../../etc/passwd\x07\t"; rm -rf /\r\nSet-Cookie: pwned=1',
        client="C:\\Windows\\..\\..\\System32 / Ω",
    )
    invoice = await make_invoice(db_session, project, date(2026, 9, 1))
    await add_entries(db_session, invoice, entry_values(invoice))
    headers = bearer(await make_token(db_session, "admin"))
    settings = checker_settings(database_url, redis_url)
    async with app_client(create_app(settings), db_session) as client:
        for file_format in ("csv", "xlsx", "pdf"):
            response = await client.get(
                f"/api/v1/invoices/{invoice.id}/hours.{file_format}", headers=headers
            )
            assert response.status_code == 200
            assert "set-cookie" not in response.headers
            match = SAFE_NAME.match(response.headers["content-disposition"])
            assert match, response.headers["content-disposition"]
            fallback, encoded = match[1], unquote(match[2])
            for name in (fallback, encoded):
                assert name.endswith(f".{file_format}")
                assert not {"/", "\\", "\x00", "\r", "\n", '"'} & set(name), name
                assert ".." not in name and not name.startswith(("/", ".")), name
            assert fallback.isascii() and "Ω" in encoded
