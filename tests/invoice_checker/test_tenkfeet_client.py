"""The 10000ft client against the stand-in (and a few hand-made transports): auth header,
relative paging, retries with backoff on 429 / 5xx / timeouts / bad JSON, clear failures."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.simulators.invoice_checker.tenkfeet import Faults, TenkfeetWorld, create_app
from invoice_checker.adapters.tenkfeet import (
    TenkfeetClient,
    TenkfeetRejected,
    TenkfeetUnavailable,
    _raw_page,
)
from tests.invoice_checker.sync_support import TOKEN


def client_for(world: TenkfeetWorld, waits: list[float], **options: object) -> TenkfeetClient:
    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    return TenkfeetClient(
        "http://tenkfeet.test/",
        TOKEN,
        transport=httpx.ASGITransport(app=create_app(world)),
        sleep=record_sleep,
        **options,  # type: ignore[arg-type]
    )


async def test_pages_are_followed_through_relative_next_paths() -> None:
    world = TenkfeetWorld(token=TOKEN, user_count=45, project_count=0)
    async with client_for(world, []) as client:
        users = await client.fetch_all("/api/v1/users", {"per_page": 10})
    assert [user["id"] for user in users] == list(range(1, 46))
    assert world.requests == 5


async def test_wrong_token_fails_at_once_with_one_clear_line() -> None:
    world = TenkfeetWorld(token="other", user_count=1, project_count=0)
    waits: list[float] = []
    async with client_for(world, waits) as client:
        with pytest.raises(TenkfeetRejected, match="401 for /api/v1/users: Unauthorized"):
            await client.users()
    assert (world.requests, waits) == (1, [])


async def test_rate_limit_waits_until_the_reset_time() -> None:
    world = TenkfeetWorld(token=TOKEN, user_count=3, project_count=0)
    world.faults = Faults(rate_limited=2, reset_after_seconds=30)
    waits: list[float] = []
    async with client_for(world, waits) as client:
        users = await client.users()
    assert len(users) == 3
    assert len(waits) == 2
    assert all(28 <= wait <= 30 for wait in waits)  # X-RateLimit-Reset is epoch seconds


async def test_server_errors_and_bad_json_are_retried_with_growing_backoff() -> None:
    world = TenkfeetWorld(token=TOKEN, user_count=3, project_count=0)
    world.faults = Faults(server_errors=2, malformed=1)
    waits: list[float] = []
    async with client_for(world, waits, backoff_seconds=1.0) as client:
        assert len(await client.users()) == 3
    assert len(waits) == 3
    assert waits[0] <= 1.0 < waits[2] <= 4.0


async def test_retries_run_out_with_an_unavailable_error() -> None:
    world = TenkfeetWorld(token=TOKEN, user_count=3, project_count=0)
    world.faults = Faults(server_errors=10)
    async with client_for(world, [], max_retries=2) as client:
        with pytest.raises(TenkfeetUnavailable, match="after 3 attempts: 503"):
            await client.users()


async def test_timeouts_are_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        assert request.headers["auth"] == TOKEN
        assert "auth" not in request.url.params
        if calls == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"data": [{"id": 1}], "paging": {"next": None}})

    async def no_sleep(seconds: float) -> None:
        return None

    async with TenkfeetClient(
        "http://tenkfeet.test", TOKEN, transport=httpx.MockTransport(handler), sleep=no_sleep
    ) as client:
        assert await client.holidays() == [{"id": 1}]
    assert calls == 2


async def test_a_slow_answer_over_real_http_times_out_then_succeeds() -> None:
    from tests.invoice_checker.sync_support import served

    world = TenkfeetWorld(token=TOKEN, user_count=2, project_count=0)
    world.faults = Faults(slow=1, slow_seconds=1.0)
    with served(world) as url:
        async with TenkfeetClient(url, TOKEN, timeout=0.3, backoff_seconds=0.01) as client:
            started = time.monotonic()
            assert len(await client.users()) == 2
    assert time.monotonic() - started < 5


items = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.integers(0, 10**9),
            "notes": st.text(max_size=20),
            "approvals": st.fixed_dictionaries(
                {"data": st.just([]), "paging": st.fixed_dictionaries({"next": st.none()})}
            ),
        }
    ),
    max_size=5,
)


@given(items=items, next_path=st.none() | st.just("/api/v1/x?page=2"), paging_first=st.booleans())
def test_raw_pages_find_next_like_a_full_decode(
    items: list[dict[str, object]], next_path: str | None, paging_first: bool
) -> None:
    paging = {"page": 1, "per_page": 5, "next": next_path}
    envelope = (
        {"paging": paging, "data": items} if paging_first else {"data": items, "paging": paging}
    )
    body = orjson.dumps(envelope)
    page = _raw_page(body, "/x")
    assert page.next_path == next_path
    assert page.body == body
