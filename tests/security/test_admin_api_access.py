"""The gateway's admin API, route by route from its OpenAPI: no token and a wrong token get 401,
the right token gets through, and with no admin token configured every route answers 503.
All refusals are problem+json; a new /admin route is covered without editing this test."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from tests.security.support import (
    ADMIN_TOKEN,
    fill_path,
    gateway_settings,
    operations,
    running_gateway,
)

WRONG = {
    "none": {},
    "wrong token": {"Authorization": "Bearer not-the-admin-token"},
    "token prefix": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
    "token with more": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    "wrong scheme": {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "no scheme": {"Authorization": ADMIN_TOKEN},
    "empty bearer": {"Authorization": "Bearer "},
}
RIGHT = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def admin_paths(client: httpx.AsyncClient) -> list[str]:
    schema = (await client.get("/openapi.json")).json()
    routes = [
        fill_path(template, {})
        for method, template, _ in operations(schema)
        if template.startswith("/admin") and method == "GET"
    ]
    assert len(routes) >= 5
    methods = {m for m, t, _ in operations(schema) if t.startswith("/admin")}
    assert methods == {"GET"}, "a new admin method needs a body in this test"
    return routes


def assert_problem(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, (what, response.status_code, response.text[:200])
    assert response.headers["content-type"] == "application/problem+json", what
    assert response.json()["status"] == status, what
    assert ADMIN_TOKEN not in response.text, what


async def test_every_admin_route_needs_the_admin_token(database_url: str, redis_url: str) -> None:
    async with running_gateway(gateway_settings(database_url, redis_url)) as client:
        for path in await admin_paths(client):
            for name, headers in WRONG.items():
                refused = await client.get(path, headers=headers)
                assert_problem(refused, 401, f"{path} with {name}")
                assert refused.headers["www-authenticate"].startswith("Bearer")
            allowed = await client.get(path, headers=RIGHT)
            # Past the guard: a list, or 404 for the dummy id "1" (never 401/403/5xx).
            assert allowed.status_code in (200, 404), (path, allowed.status_code)
            if allowed.status_code == 404:
                assert_problem(allowed, 404, path)


async def test_every_admin_route_answers_503_when_no_token_is_set(
    database_url: str, redis_url: str
) -> None:
    settings = gateway_settings(database_url, redis_url, admin_token=SecretStr(""))
    async with running_gateway(settings) as client:
        for path in await admin_paths(client):
            for headers in (*WRONG.values(), RIGHT, {"Authorization": "Bearer "}):
                answer = await client.get(path, headers=headers)
                assert_problem(answer, 503, path)
                assert answer.json()["type"] == "urn:problem:admin-not-configured"
