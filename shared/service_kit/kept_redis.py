"""Redis commands a server sends on every request, over one connection each process keeps.

Through redis-py's client a command costs several times its round trip (a pool checkout, a lock,
a task for the write's timeout, a stream reader, a timeout for the read). Here each command is
written straight to the kept connection's transport and its reply matched in order (Redis
answers a connection's commands in the order they came), so the requests a process has in flight
share the connection without waiting for one another's round trip.

redis-py still opens the connection (same URL, database, credentials, TLS and timeouts as the
client's pool) before it is taken over. A reply later than the client's socket timeout, a reply
this reader does not read (an array) or the connection closing drops the connection and fails
every command still waiting on it; the next command connects again. Errors are raised.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Reply = bytes | int | None  # a simple or bulk string, an integer, or a null


class KeptRedis:
    """One kept connection for a process's hot-path commands (see the module's docstring)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._connection: _KeptConnection | None = None
        self._connecting = asyncio.Lock()

    async def call(self, *arguments: bytes) -> Reply:
        """Send one command; its reply, or ResponseError for an error reply."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connect()
        return await connection.send(packed_command(*arguments))

    async def _connect(self) -> _KeptConnection:
        async with self._connecting:  # one connection, whoever else is waiting for it
            if self._connection is None or self._connection.closed:
                self._connection = await _KeptConnection.open(self._redis)
            return self._connection

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close()


def packed_command(*arguments: bytes) -> bytes:
    """A command as Redis reads it (RESP): an array of bulk strings."""
    parts = [b"*%d\r\n" % len(arguments)]
    parts += [b"$%d\r\n%s\r\n" % (len(argument), argument) for argument in arguments]
    return b"".join(parts)


class _Incomplete:
    """The unread bytes do not hold a whole reply yet."""


_INCOMPLETE: Final = _Incomplete()


class _KeptConnection(asyncio.Protocol):
    """The connection's transport, taken over from redis-py; replies read as they arrive."""

    def __init__(self, writer: asyncio.StreamWriter, timeout: float | None) -> None:
        self._writer = writer  # kept: a StreamWriter closes its transport when it is dropped
        self._transport = writer.transport
        self._timeout = timeout
        self._waiting: deque[asyncio.Future[Reply]] = deque()
        self._unread = b""
        self.closed = False

    @classmethod
    async def open(cls, redis: Redis) -> _KeptConnection:
        """A connection as the client's pool makes them, its replies read here from then on."""
        opened = redis.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        await opened.connect()
        # Hand the transport over: redis-py's connection forgets it (and so no longer closes it
        # when it is dropped). Its stream reader holds nothing: every handshake reply was read.
        writer: asyncio.StreamWriter = opened._writer
        opened._reader = opened._writer = None
        connection = cls(writer, opened.socket_timeout)
        writer.transport.set_protocol(connection)
        return connection

    async def send(self, command: bytes) -> Reply:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Reply] = loop.create_future()
        self._waiting.append(reply)
        self._transport.write(command)
        if self._timeout is None:
            return await reply
        late = loop.call_later(self._timeout, self._time_out, reply)
        try:
            return await reply
        finally:
            late.cancel()

    def data_received(self, data: bytes) -> None:
        self._unread += data
        while self._unread:
            try:
                reply = self._take_reply()
            except InvalidResponse as exc:
                self._fail(exc)
                return
            if isinstance(reply, _Incomplete):
                return
            if not self._waiting:
                self._fail(InvalidResponse("a reply from Redis to no command"))
                return
            waiting = self._waiting.popleft()
            if waiting.done():  # its caller gave up (cancelled): the reply was still its own
                continue
            if isinstance(reply, RedisError):
                waiting.set_exception(reply)
            else:
                waiting.set_result(reply)

    def _take_reply(self) -> Reply | ResponseError | _Incomplete:
        """The first reply in the unread bytes, taken out of them."""
        unread = self._unread
        end = unread.find(b"\r\n")
        if end < 0:
            return _INCOMPLETE
        kind, line = unread[:1], unread[1:end]
        if kind == b"$" and line != b"-1":  # a bulk string: its length, then its bytes
            start = end + 2
            stop = start + _integer(line)
            if len(unread) < stop + 2:
                return _INCOMPLETE
            self._unread = unread[stop + 2 :]
            return unread[start:stop]
        self._unread = unread[end + 2 :]
        if kind == b"+":
            return line
        if kind == b"-":
            return ResponseError(line.decode(errors="replace"))
        if kind == b":":
            return _integer(line)
        if kind == b"$" or kind == b"_":  # RESP2's and RESP3's null
            return None
        raise InvalidResponse(f"unexpected reply from Redis: {unread[:80]!r}")

    def _time_out(self, reply: asyncio.Future[Reply]) -> None:
        if not reply.done():
            self._fail(RedisTimeoutError("Timeout reading from Redis"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def _fail(self, error: RedisError) -> None:
        """Drop the connection: the replies still due can no longer be told apart."""
        self.close()
        while self._waiting:
            reply = self._waiting.popleft()
            if not reply.done():
                reply.set_exception(error)

    def close(self) -> None:
        self.closed = True
        self._transport.close()


def _integer(digits: bytes) -> int:
    try:
        return int(digits)
    except ValueError:
        raise InvalidResponse(f"not a number in a reply from Redis: {digits[:40]!r}") from None
