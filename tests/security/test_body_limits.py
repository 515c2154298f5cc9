"""Every route that takes a body refuses one over MAX_BODY_BYTES with 413 problem+json, whether
the client declares the length or streams it chunked without Content-Length, before any handler,
guard or Hawk check runs on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.security.support import (
    checker_settings,
    fill_path,
    gateway_settings,
    operations,
    running_checker,
    running_gateway,
)

LIMIT = 2048
CHUNK = b"x" * 1000


async def chunked(total: int) -> AsyncIterator[bytes]:
    """`total` bytes in 1000-byte pieces: httpx sends them chunked, with no Content-Length."""
    sent = 0
    while sent < total:
        piece = CHUNK[: total - sent]
        sent += len(piece)
        yield piece


def assert_too_large(response: httpx.Response, what: str) -> None:
    assert response.status_code == 413, (what, response.status_code, response.text[:200])
    assert response.headers["content-type"] == "application/problem+json", what
    body = response.json()
    assert body["status"] == 413 and body["title"] == "Content Too Large", what
    assert str(LIMIT) in body["detail"], what


async def refuse_every_body_route(client: httpx.AsyncClient) -> int:
    """Send an oversized body, declared and chunked, to every POST/PUT/PATCH route. Routes that
    declare a body must answer 413; the others must either answer 413 or ignore the body (answer
    as they do without one), so no route reads more than the limit."""
    schema = (await client.get("/openapi.json")).json()
    json_type = {"content-type": "application/json"}
    refused = 0
    for method, template, operation in operations(schema):
        if method not in {"POST", "PUT", "PATCH"}:
            continue
        path = fill_path(template, {})
        declared = await client.request(method, path, content=b" " * (LIMIT + 1), headers=json_type)
        assert_too_large(declared, f"{method} {template} with Content-Length")
        streamed = await client.request(method, path, content=chunked(LIMIT + 1), headers=json_type)
        assert "content-length" not in streamed.request.headers
        if "requestBody" in operation or streamed.status_code == 413:
            assert_too_large(streamed, f"{method} {template} chunked")
            refused += 1
        else:
            without = await client.request(method, path)
            assert streamed.status_code == without.status_code, f"{method} {template} read it"
    return refused


async def test_the_gateway_refuses_large_bodies_on_every_route(
    database_url: str, redis_url: str
) -> None:
    for hawk_disabled in (False, True):
        settings = gateway_settings(
            database_url, redis_url, max_body_bytes=LIMIT, hawk_disabled=hawk_disabled
        )
        async with running_gateway(settings) as client:
            refused = await refuse_every_body_route(client)
            assert refused >= 1
            print(f"security body-limit licence-gateway: routes={refused} (declared and chunked)")


async def test_the_invoice_checker_refuses_large_bodies_on_every_route(
    database_url: str, redis_url: str
) -> None:
    settings = checker_settings(database_url, redis_url, max_body_bytes=LIMIT)
    async with running_checker(settings) as client:
        refused = await refuse_every_body_route(client)
        assert refused >= 10
        print(f"security body-limit invoice-checker: routes={refused} (declared and chunked)")


async def test_a_body_at_the_limit_still_reaches_the_route(
    database_url: str, redis_url: str
) -> None:
    """The limit is "more than", and a chunked body under it is read whole."""
    settings = checker_settings(database_url, redis_url, max_body_bytes=LIMIT)
    async with running_checker(settings) as client:
        for content in (b"x" * LIMIT, chunked(LIMIT)):
            response = await client.post("/api/v1/auth/tokens", content=content)
            assert response.status_code == 401  # past the size check, stopped by sign-in
