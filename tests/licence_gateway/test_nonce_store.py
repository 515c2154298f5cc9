"""The Hawk nonce store's own connection (`hawk_route.NonceStore`): replies matched in order while
several requests share it, and every way the connection can fail raised, never taken for a first
use (the Hawk routes answer those with a 503, see test_hawk)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from licence_gateway.api.hawk_route import NonceStore

# What a fake Redis does with each SET: the bytes it answers, or None to stay silent.
Answer = Callable[[int], bytes | None]


@asynccontextmanager
async def nonce_store(
    redis_url: str, socket_timeout: float | None = None
) -> AsyncIterator[NonceStore]:
    redis = Redis.from_url(redis_url, socket_timeout=socket_timeout)
    store = NonceStore(redis)
    try:
        yield store
    finally:
        await store.aclose()
        await redis.aclose()


@asynccontextmanager
async def fake_redis(answer: Answer) -> AsyncIterator[tuple[str, list[int]]]:
    """A server answering redis-py's handshake with OK and each SET (numbered from 0 across
    connections) as `answer` says; yields its URL and the SETs' numbers, as received."""
    received: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while command := await read_command(reader):
            if command[0].upper() == b"SET":
                received.append(len(received))
                reply = answer(received[-1])
            else:
                reply = b"+OK\r\n"
            if reply is not None:
                writer.write(reply)
            if reply == b"":  # an empty answer: hang up
                writer.close()
                return
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"redis://127.0.0.1:{port}/0", received


async def read_command(reader: asyncio.StreamReader) -> list[bytes]:
    header = await reader.readline()
    if not header:
        return []
    arguments = []
    for _ in range(int(header[1:])):
        length = int((await reader.readline())[1:])
        arguments.append((await reader.readexactly(length + 2))[:-2])
    return arguments


async def test_first_use_then_already_used(redis_url: str) -> None:
    key = f"test-nonce:{uuid.uuid4()}"
    async with nonce_store(redis_url) as store:
        assert await store.first_use(key) is True
        assert await store.first_use(key) is False


async def test_requests_in_flight_together_each_get_their_own_reply(redis_url: str) -> None:
    keys = [f"test-nonce:{uuid.uuid4()}" for _ in range(20)]
    async with nonce_store(redis_url) as store:
        answers = await asyncio.gather(*(store.first_use(key) for key in keys + keys))
    assert answers == [True] * 20 + [False] * 20


async def test_an_error_reply_is_raised_and_the_connection_kept() -> None:
    replies = [b"-ERR out of memory\r\n", b"+OK\r\n"]
    async with fake_redis(lambda n: replies[n]) as (url, received), nonce_store(url) as store:
        with pytest.raises(ResponseError, match="out of memory"):
            await store.first_use("a")
        assert await store.first_use("b") is True
    assert received == [0, 1]


async def test_a_closed_connection_fails_the_waiting_request_and_the_next_one_reconnects() -> None:
    replies = [b"", b"$-1\r\n"]
    async with fake_redis(lambda n: replies[n]) as (url, _), nonce_store(url) as store:
        with pytest.raises(RedisConnectionError):
            await store.first_use("a")
        assert await store.first_use("a") is False


async def test_no_reply_within_the_socket_timeout_fails_every_waiting_request() -> None:
    replies: list[bytes | None] = [None, None, b"+OK\r\n"]
    async with (
        fake_redis(lambda n: replies[n]) as (url, _),
        nonce_store(url, socket_timeout=0.2) as store,
    ):
        first, second = await asyncio.gather(
            store.first_use("a"), store.first_use("b"), return_exceptions=True
        )
        assert isinstance(first, RedisTimeoutError)
        assert isinstance(second, RedisTimeoutError)
        assert await store.first_use("c") is True  # on a new connection


async def test_a_reply_set_cannot_give_drops_the_connection() -> None:
    replies = [b":1\r\n", b"+OK\r\n"]
    async with fake_redis(lambda n: replies[n]) as (url, _), nonce_store(url) as store:
        with pytest.raises(InvalidResponse):
            await store.first_use("a")
        assert await store.first_use("b") is True


async def test_a_cancelled_request_does_not_take_the_next_ones_reply() -> None:
    first_answered = asyncio.Event()
    replies = [b"+OK\r\n", b"$-1\r\n"]

    def answer(n: int) -> bytes | None:
        if n == 0:
            # The first reply comes only with the second: after its caller gave up waiting.
            return None
        first_answered.set()
        return replies[0] + replies[1]

    async with fake_redis(answer) as (url, _), nonce_store(url) as store:
        abandoned = asyncio.create_task(store.first_use("a"))
        await asyncio.sleep(0.05)
        abandoned.cancel()
        assert await store.first_use("b") is False
    assert first_answered.is_set()
