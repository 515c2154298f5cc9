"""A process's kept Redis connection (`service_kit.kept_redis`): every kind of reply read, replies
matched in order while several requests share it, and every way the connection can fail raised
(the Hawk routes answer those with a 503, see test_hawk; sign-ins ask the database)."""

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

from service_kit.kept_redis import KeptRedis, Reply

# What a fake Redis does with each SET: the bytes it answers, or None to stay silent.
Answer = Callable[[int], bytes | None]


@asynccontextmanager
async def kept_redis(
    redis_url: str, socket_timeout: float | None = None
) -> AsyncIterator[KeptRedis]:
    redis = Redis.from_url(redis_url, socket_timeout=socket_timeout)
    store = KeptRedis(redis)
    try:
        yield store
    finally:
        await store.aclose()
        await redis.aclose()


async def set_once(store: KeptRedis, key: str) -> Reply:
    return await store.call(b"SET", key.encode(), b"1", b"NX", b"EX", b"60")


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


async def test_set_nx_answers_ok_then_null(redis_url: str) -> None:
    key = f"test-nonce:{uuid.uuid4()}"
    async with kept_redis(redis_url) as store:
        assert await set_once(store, key) == b"OK"
        assert await set_once(store, key) is None


async def test_requests_in_flight_together_each_get_their_own_reply(redis_url: str) -> None:
    keys = [f"test-nonce:{uuid.uuid4()}" for _ in range(20)]
    async with kept_redis(redis_url) as store:
        answers = await asyncio.gather(*(set_once(store, key) for key in keys + keys))
    assert answers == [b"OK"] * 20 + [None] * 20


async def test_an_error_reply_is_raised_and_the_connection_kept() -> None:
    replies = [b"-ERR out of memory\r\n", b"+OK\r\n"]
    async with fake_redis(lambda n: replies[n]) as (url, received), kept_redis(url) as store:
        with pytest.raises(ResponseError, match="out of memory"):
            await set_once(store, "a")
        assert await set_once(store, "b") == b"OK"
    assert received == [0, 1]


async def test_a_closed_connection_fails_the_waiting_request_and_the_next_one_reconnects() -> None:
    replies = [b"", b"$-1\r\n"]
    async with fake_redis(lambda n: replies[n]) as (url, _), kept_redis(url) as store:
        with pytest.raises(RedisConnectionError):
            await set_once(store, "a")
        assert await set_once(store, "a") is None


async def test_no_reply_within_the_socket_timeout_fails_every_waiting_request() -> None:
    replies: list[bytes | None] = [None, None, b"+OK\r\n"]
    async with (
        fake_redis(lambda n: replies[n]) as (url, _),
        kept_redis(url, socket_timeout=0.2) as store,
    ):
        first, second = await asyncio.gather(
            set_once(store, "a"), set_once(store, "b"), return_exceptions=True
        )
        assert isinstance(first, RedisTimeoutError)
        assert isinstance(second, RedisTimeoutError)
        assert await set_once(store, "c") == b"OK"  # on a new connection


async def test_a_reply_it_does_not_read_drops_the_connection() -> None:
    replies = [b"*1\r\n:1\r\n", b"+OK\r\n"]
    async with fake_redis(lambda n: replies[n]) as (url, _), kept_redis(url) as store:
        with pytest.raises(InvalidResponse):
            await set_once(store, "a")
        assert await set_once(store, "b") == b"OK"  # on a new connection


async def test_replies_of_every_kind_it_reads() -> None:
    replies = [b"$5\r\nab\r\nc\r\n", b"$0\r\n\r\n", b":-42\r\n", b"_\r\n", b"+QUEUED\r\n"]
    async with fake_redis(lambda n: replies[n]) as (url, _), kept_redis(url) as store:
        answers = [await set_once(store, str(n)) for n in range(len(replies))]
    assert answers == [b"ab\r\nc", b"", -42, None, b"QUEUED"]


async def test_a_bulk_reply_split_across_reads() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while command := await read_command(reader):
            if command[0].upper() != b"GET":
                writer.write(b"+OK\r\n")
                continue
            for piece in (b"$1", b"0\r\n01234", b"56789\r", b"\n"):
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, kept_redis(f"redis://127.0.0.1:{port}/0") as store:
        assert await store.call(b"GET", b"k") == b"0123456789"


async def test_against_redis_strings_integers_nulls_and_errors(redis_url: str) -> None:
    key = f"test-kept:{uuid.uuid4()}".encode()
    async with kept_redis(redis_url) as store:
        assert await store.call(b"GET", key) is None
        assert await store.call(b"INCR", key) == 1
        assert await store.call(b"GET", key) == b"1"
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await store.call(b"LPUSH", key, b"x")
        assert await store.call(b"DEL", key) == 1  # the connection was kept


async def test_a_cancelled_request_does_not_take_the_next_ones_reply() -> None:
    first_answered = asyncio.Event()
    replies = [b"+OK\r\n", b"$-1\r\n"]

    def answer(n: int) -> bytes | None:
        if n == 0:
            # The first reply comes only with the second: after its caller gave up waiting.
            return None
        first_answered.set()
        return replies[0] + replies[1]

    async with fake_redis(answer) as (url, _), kept_redis(url) as store:
        abandoned = asyncio.create_task(set_once(store, "a"))
        await asyncio.sleep(0.05)
        abandoned.cancel()
        assert await set_once(store, "b") is None
    assert first_answered.is_set()
