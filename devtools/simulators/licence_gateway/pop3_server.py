"""A small asyncio POP3 server for the HMRC simulator's mailbox.

RFC 1939 (USER/PASS, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT, deletes applied only
at QUIT), RFC 2449 CAPA, RFC 2595 STLS and RFC 5034 AUTH with PLAIN and XOAUTH2 (the Microsoft
365 dialogue: `AUTH XOAUTH2`, `+ `, the base64 string; or the string inline).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

TokenCheck = Callable[[str, str], Awaitable[bool]]
"""(user, bearer token) -> whether the token grants access to that user's mailbox."""

MAX_LINE = 8192  # XOAUTH2 strings carrying real Microsoft tokens run to ~2 KB
IDLE_TIMEOUT = 600  # RFC 1939 section 3: an autologout timer of at least 10 minutes
AUTH_FAILED = "-ERR Authentication failure: unknown user name or bad password."


@dataclass(frozen=True)
class StoredMessage:
    uid: str
    data: bytes  # CRLF line ends, as sent on the wire before dot-stuffing


def to_crlf(data: bytes) -> bytes:
    """Any mix of line ends as CRLF, ending with one."""
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not text.endswith(b"\n"):
        text += b"\n"
    return text.replace(b"\n", b"\r\n")


class Mailbox(Protocol):
    """A maildrop. A message added with a future `available_at` stays hidden until then."""

    def add(self, data: bytes, *, available_at: float | None = None) -> str: ...

    def visible(self, now: float) -> list[StoredMessage]: ...

    def delete(self, uids: Iterable[str]) -> None: ...


@dataclass
class MemoryMailbox:
    _messages: list[tuple[float, StoredMessage]] = field(default_factory=list)

    def add(self, data: bytes, *, available_at: float | None = None) -> str:
        message = StoredMessage(uuid.uuid4().hex, to_crlf(data))
        self._messages.append((time.time() if available_at is None else available_at, message))
        self._messages.sort(key=lambda item: item[0])
        return message.uid

    def visible(self, now: float) -> list[StoredMessage]:
        return [message for at, message in self._messages if at <= now]

    def delete(self, uids: Iterable[str]) -> None:
        gone = set(uids)
        self._messages = [(at, m) for at, m in self._messages if m.uid not in gone]


class FolderMailbox:
    """One file per message, `<available_at in ms>-<uid>.eml`, so a restart loses nothing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes, *, available_at: float | None = None) -> str:
        uid = uuid.uuid4().hex
        millis = round((time.time() if available_at is None else available_at) * 1000)
        final = self.folder / f"{millis:015d}-{uid}.eml"
        partial = self.folder / f".{final.name}.tmp"
        partial.write_bytes(to_crlf(data))
        os.replace(partial, final)  # atomic: a reader never sees half a message
        return uid

    def visible(self, now: float) -> list[StoredMessage]:
        messages = []
        for path in sorted(self.folder.glob("*.eml")):
            millis, _, uid = path.stem.partition("-")
            if int(millis) <= now * 1000:
                with contextlib.suppress(FileNotFoundError):  # deleted by a concurrent QUIT
                    messages.append(StoredMessage(uid, path.read_bytes()))
        return messages

    def delete(self, uids: Iterable[str]) -> None:
        for uid in uids:
            for path in self.folder.glob(f"*-{uid}.eml"):
                path.unlink(missing_ok=True)


def xoauth2_credentials(blob: bytes) -> tuple[str, str] | None:
    """(user, token) from a decoded XOAUTH2 string `user=U^Aauth=Bearer T^A^A`."""
    fields = dict(
        part.split("=", 1) for part in blob.decode("utf-8", "replace").split("\x01") if "=" in part
    )
    user, auth = fields.get("user"), fields.get("auth", "")
    scheme, _, token = auth.partition(" ")
    if not user or scheme.lower() != "bearer" or not token:
        return None
    return user, token


def decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def static_token_check(expected: str) -> TokenCheck:
    async def check(user: str, token: str) -> bool:
        return token == expected

    return check


def introspection_token_check(
    url: str, ca_file: str | None = None, timeout: float = 5
) -> TokenCheck:
    """Ask a token introspection endpoint, as Dovecot's oauth2 passdb does in `auth` mode:
    GET with the bearer token; the answer must say `active` and name the same user."""
    import httpx

    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True

    async def check(user: str, token: str) -> bool:
        try:
            async with httpx.AsyncClient(timeout=timeout, verify=verify) as client:
                response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            claims = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("token introspection failed", extra={"error": str(exc)})
            return False
        names = {claims.get(key) for key in ("username", "upn", "email", "preferred_username")}
        return claims.get("active") is True and user in names

    return check


class Pop3Server:
    """Serves one mailbox. Users log in with a password or an XOAUTH2 token."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        passwords: Mapping[str, str],
        token_check: TokenCheck | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.mailbox = mailbox
        self.passwords = dict(passwords)
        self.token_check = token_check
        self.tls_context = tls_context  # offered through STLS, or from the start (POP3S)
        self.implicit_tls = implicit_tls and tls_context is not None
        self.host = host
        self.port = port
        self.locked = False  # RFC 1939: one session at a time holds the maildrop
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._serve,
            self.host,
            self.port,
            limit=MAX_LINE * 2,
            ssl=self.tls_context if self.implicit_tls else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Pop3Session(self, reader, writer)
        try:
            await session.run()
        except (ConnectionError, TimeoutError, ssl.SSLError, ValueError):
            pass  # gone, idle or abusive (a line past the limit): deletes only happen at QUIT
        finally:
            session.release()
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


class Pop3Session:
    def __init__(
        self, server: Pop3Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.user: str | None = None  # given by USER, awaiting PASS
        self.messages: list[StoredMessage] | None = None  # set once logged in
        self.deleted: set[int] = set()
        self.tls = server.implicit_tls
        self.done = False

    # -- plumbing ---------------------------------------------------------------------------

    async def send(self, *lines: str | bytes) -> None:
        for line in lines:
            self.writer.write((line.encode() if isinstance(line, str) else line) + b"\r\n")
        await self.writer.drain()

    async def read_line(self) -> str | None:
        line = await asyncio.wait_for(self.reader.readline(), IDLE_TIMEOUT)
        if not line:
            return None
        if len(line) > MAX_LINE:
            raise ConnectionError("command line too long")
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def release(self) -> None:
        if self.messages is not None:
            self.server.locked = False
            self.messages = None

    async def run(self) -> None:
        await self.send("+OK HMRC simulator POP3 server ready")
        while not self.done:
            line = await self.read_line()
            if line is None:
                return
            name, _, arg = line.partition(" ")
            command = name.upper()
            handler = getattr(self, f"cmd_{command}", None)
            if handler is None or not self.allowed_now(command):
                await self.send(f"-ERR unknown command or wrong state: {name[:20]}")
                continue
            await handler(arg.strip())

    def allowed_now(self, command: str) -> bool:
        """AUTHORIZATION commands before login, TRANSACTION ones after; CAPA and QUIT always."""
        if command in {"CAPA", "QUIT"}:
            return True
        return (self.messages is None) == (command in AUTHORIZATION_COMMANDS)

    # -- AUTHORIZATION state -----------------------------------------------------------------

    async def cmd_CAPA(self, arg: str) -> None:
        mechanisms = ["PLAIN"] + (["XOAUTH2"] if self.server.token_check else [])
        capabilities = ["TOP", "UIDL", "USER", "SASL " + " ".join(mechanisms)]
        if self.server.tls_context is not None and not self.tls and self.messages is None:
            capabilities.append("STLS")
        await self.send("+OK Capability list follows", *capabilities, ".")

    async def cmd_STLS(self, arg: str) -> None:
        if self.server.tls_context is None or self.tls:
            await self.send("-ERR STLS not available")
            return
        await self.send("+OK Begin TLS negotiation")
        await self.writer.start_tls(self.server.tls_context)
        self.tls = True
        self.user = None  # RFC 2595: forget anything said before TLS

    async def cmd_USER(self, arg: str) -> None:
        self.user = arg
        await self.send("+OK send PASS")

    async def cmd_PASS(self, arg: str) -> None:
        user, self.user = self.user, None
        if user is None:
            await self.send("-ERR USER first")
        elif self.server.passwords.get(user) != arg:
            await self.send(AUTH_FAILED)
        else:
            await self.login(user)

    async def cmd_AUTH(self, arg: str) -> None:
        mechanism, _, initial = arg.partition(" ")
        mechanism = mechanism.upper()
        if not mechanism:
            await self.send("+OK", "PLAIN", *(["XOAUTH2"] if self.server.token_check else []), ".")
            return
        if mechanism not in {"PLAIN", "XOAUTH2"} or (
            mechanism == "XOAUTH2" and self.server.token_check is None
        ):
            await self.send("-ERR unsupported authentication mechanism")
            return
        if not initial:
            await self.send("+ ")
            initial = await self.read_line() or "*"
        if initial.strip() == "*":
            await self.send("-ERR authentication cancelled")
            return
        blob = decode_base64(initial)
        user = None
        if blob is not None:
            user = await (self.xoauth2(blob) if mechanism == "XOAUTH2" else self.plain(blob))
        if user is None:
            await self.send(AUTH_FAILED)
        else:
            await self.login(user, "+OK User successfully authenticated.")

    async def xoauth2(self, blob: bytes) -> str | None:
        credentials = xoauth2_credentials(blob)
        check = self.server.token_check
        if credentials is None or check is None or not await check(*credentials):
            return None
        return credentials[0]

    async def plain(self, blob: bytes) -> str | None:
        parts = blob.decode("utf-8", "replace").split("\x00")
        if len(parts) != 3 or self.server.passwords.get(parts[1]) != parts[2]:
            return None
        return parts[1]

    async def login(self, user: str, greeting: str = "+OK maildrop locked and ready") -> None:
        if self.server.locked:
            await self.send("-ERR [IN-USE] maildrop already locked by another session")
            return
        self.server.locked = True
        self.messages = self.server.mailbox.visible(time.time())
        logger.info("pop3 login", extra={"user": user, "messages": len(self.messages)})
        await self.send(greeting)

    async def cmd_QUIT(self, arg: str) -> None:
        if self.messages is not None:  # the UPDATE state: only now do deletes take effect
            gone = [self.messages[index].uid for index in sorted(self.deleted)]
            self.server.mailbox.delete(gone)
            logger.info("pop3 quit", extra={"deleted": len(gone)})
        self.done = True
        await self.send("+OK bye")

    # -- TRANSACTION state -------------------------------------------------------------------

    def live(self) -> list[tuple[int, StoredMessage]]:
        """(message number, message) for messages not marked deleted."""
        return [
            (index + 1, message)
            for index, message in enumerate(self.messages or ())
            if index not in self.deleted
        ]

    async def message_arg(self, arg: str) -> tuple[int, StoredMessage] | None:
        """The live message an argument names, or None after answering -ERR."""
        messages = self.messages or []
        number = int(arg) if arg.isdigit() else 0
        if not 1 <= number <= len(messages):
            await self.send("-ERR no such message")
            return None
        if number - 1 in self.deleted:
            await self.send("-ERR message already deleted")
            return None
        return number, messages[number - 1]

    async def cmd_STAT(self, arg: str) -> None:
        live = self.live()
        await self.send(f"+OK {len(live)} {sum(len(m.data) for _, m in live)}")

    async def cmd_LIST(self, arg: str) -> None:
        await self.listing(arg, lambda message: str(len(message.data)))

    async def cmd_UIDL(self, arg: str) -> None:
        await self.listing(arg, lambda message: message.uid)

    async def listing(self, arg: str, describe: Callable[[StoredMessage], str]) -> None:
        if arg:
            if found := await self.message_arg(arg):
                await self.send(f"+OK {found[0]} {describe(found[1])}")
            return
        live = self.live()
        lines = [f"{number} {describe(message)}" for number, message in live]
        await self.send(f"+OK {len(live)} messages", *lines, ".")

    async def cmd_RETR(self, arg: str) -> None:
        if found := await self.message_arg(arg):
            message = found[1]
            await self.send(f"+OK {len(message.data)} octets", *dot_stuffed(message.data), ".")

    async def cmd_TOP(self, arg: str) -> None:
        number, _, count = arg.partition(" ")
        if not count.strip().isdigit():
            await self.send("-ERR usage: TOP msg n")
            return
        if found := await self.message_arg(number):
            head, _, body = found[1].data.partition(b"\r\n\r\n")
            lines = body.split(b"\r\n")[: int(count)] if body else []
            await self.send("+OK top of message follows", *dot_stuffed(head + b"\r\n"), "")
            if lines:
                await self.send(*dot_stuffed(b"\r\n".join(lines) + b"\r\n"))
            await self.send(".")

    async def cmd_DELE(self, arg: str) -> None:
        if found := await self.message_arg(arg):
            self.deleted.add(found[0] - 1)
            await self.send(f"+OK message {found[0]} deleted")

    async def cmd_RSET(self, arg: str) -> None:
        self.deleted.clear()
        await self.send(f"+OK maildrop has {len(self.live())} messages")

    async def cmd_NOOP(self, arg: str) -> None:
        await self.send("+OK")


AUTHORIZATION_COMMANDS = {"USER", "PASS", "AUTH", "STLS"}


def dot_stuffed(data: bytes) -> list[bytes]:
    """The message's lines, a leading '.' doubled (RFC 1939 section 3)."""
    lines = data.removesuffix(b"\r\n").split(b"\r\n")
    return [b"." + line if line.startswith(b".") else line for line in lines]
