"""Read the mailbox HMRC replies to, over POP3 (stdlib poplib in a worker thread).

POP3S or STARTTLS; USER/PASS or AUTH XOAUTH2. Reading and deleting are separate sessions so the
caller can store what it read and commit before anything leaves the server:

    messages = await mailbox.fetch_all()        # UIDL + RETR, QUIT without DELE
    ... store them, commit ...
    await mailbox.delete({m.uid for m in stored})  # new session: DELE by UIDL, QUIT

UIDLs are stable across sessions (message numbers are not), and a failure before QUIT deletes
nothing, so a dropped connection never loses a message.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import poplib
import ssl
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from licence_gateway.adapters.identity import IdentityError, TokenProvider
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import require_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_MESSAGE_BYTES = 20 * 1024 * 1024


class Pop3Error(Exception):
    """The mailbox pass failed; nothing was deleted. `transient`: trying later may work."""

    transient = False


class Pop3TransientError(Pop3Error):
    """Connection refused, dropped or timed out, or a temporary server failure."""

    transient = True


class Pop3AuthenticationError(Pop3Error):
    """The server refused the login, or the mechanism: needs an operator."""


@dataclass(frozen=True)
class Pop3Config:
    host: str
    port: int
    security: Literal["tls", "starttls", "none"]
    auth: Literal["xoauth2", "password"]
    username: str
    password: str = field(default="", repr=False)  # never in logs or tracebacks
    timeout_seconds: float = 60
    ca_file: str = ""

    @classmethod
    def from_settings(cls, settings: LicenceGatewaySettings) -> Pop3Config:
        """The POP3 settings; NotConfiguredError naming what is missing."""
        require_settings(settings, "The HMRC mailbox (POP3)", "pop3_host", "pop3_username")
        if settings.pop3_auth == "password":
            require_settings(settings, "POP3 password login", "pop3_password")
        return cls(
            host=settings.pop3_host,
            port=settings.pop3_port,
            security=settings.pop3_security,
            auth=settings.pop3_auth,
            username=settings.pop3_username,
            password=settings.pop3_password.get_secret_value(),
            timeout_seconds=settings.pop3_timeout_seconds,
            ca_file=settings.tls_ca_file,
        )


@dataclass(frozen=True)
class MailboxMessage:
    """One message in the box. `raw` is None when it was larger than the fetch allowed."""

    uid: str
    size: int
    raw: bytes | None


def xoauth2_string(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response: base64 of user=…^Aauth=Bearer …^A^A."""
    return base64.b64encode(f"user={username}\x01auth=Bearer {token}\x01\x01".encode()).decode()


class Pop3Mailbox:
    def __init__(self, config: Pop3Config, token_provider: TokenProvider | None = None) -> None:
        if config.auth == "xoauth2" and token_provider is None:
            raise ValueError("XOAUTH2 needs a token provider")
        self.config = config
        self._token_provider = token_provider

    async def count(self) -> int:
        """How many messages the box holds."""
        return await self._session(lambda pop: pop.stat()[0])

    async def fetch_all(
        self, *, max_messages: int | None = None, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> list[MailboxMessage]:
        """Every message (or the first `max_messages`), raw bytes as stored; deletes nothing."""

        def fetch(pop: poplib.POP3) -> list[MailboxMessage]:
            sizes = _sizes(pop)
            messages = []
            for number, uid in list(_uids(pop).items())[:max_messages]:
                size = sizes.get(number, 0)
                if size > max_bytes:
                    logger.warning("mailbox message too large", extra={"uid": uid, "size": size})
                    messages.append(MailboxMessage(uid=uid, size=size, raw=None))
                    continue
                _response, lines, _octets = pop.retr(number)
                messages.append(
                    MailboxMessage(uid=uid, size=size, raw=b"\r\n".join(lines) + b"\r\n")
                )
            return messages

        return await self._session(fetch)

    async def delete(self, uids: Collection[str]) -> set[str]:
        """Delete these messages (by UIDL) in one session; return the UIDs that were deleted.

        Call it only after what was fetched is committed. UIDs no longer in the box are ignored.
        """
        wanted = set(uids)
        if not wanted:
            return set()

        def delete(pop: poplib.POP3) -> set[str]:
            deleted = set()
            for number, uid in _uids(pop).items():
                if uid in wanted:
                    pop.dele(number)
                    deleted.add(uid)
            return deleted

        return await self._session(delete)

    async def _session(self, work: Callable[[poplib.POP3], T]) -> T:
        token = await self._token() if self.config.auth == "xoauth2" else ""
        return await asyncio.to_thread(self._run, work, token)

    async def _token(self) -> str:
        if self._token_provider is None:
            raise RuntimeError("XOAUTH2 POP3 needs a token provider")
        try:
            return await self._token_provider.access_token()
        except IdentityError as exc:
            failure = Pop3TransientError if exc.transient else Pop3AuthenticationError
            raise failure(f"no XOAUTH2 token for POP3: {exc}") from exc

    def _run(self, work: Callable[[poplib.POP3], T], token: str) -> T:
        """One session: connect, log in, work, QUIT (which commits any DELE). Runs in a thread."""
        with _translated_errors():
            pop = self._connect()
            try:
                self._login(pop, token)
                result = work(pop)
            except BaseException:
                _close_without_quit(pop)  # no QUIT: the server forgets any DELE of this session
                raise
            pop.quit()
            return result

    def _connect(self) -> poplib.POP3:
        config = self.config
        context = ssl.create_default_context(cafile=config.ca_file or None)
        if config.security == "tls":
            return poplib.POP3_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context
            )
        pop = poplib.POP3(config.host, config.port, timeout=config.timeout_seconds)
        if config.security == "starttls":
            try:
                pop.stls(context)
            except BaseException:
                _close_without_quit(pop)
                raise
        return pop

    def _login(self, pop: poplib.POP3, token: str) -> None:
        config = self.config
        try:
            if config.auth == "password":
                pop.user(config.username)
                pop.pass_(config.password)
                return
            # poplib has no AUTH; its _shortcmd accepts the bare "+" continuation (reference §7).
            command = cast(Any, pop)._shortcmd
            command("AUTH XOAUTH2")
            answer: bytes = command(xoauth2_string(config.username, token))
            if not answer.startswith(b"+OK"):  # an error challenge; an empty line gets the -ERR
                command("")
        except poplib.error_proto as exc:
            if b"[SYS/TEMP]" in _response_of(exc) or b"[IN-USE]" in _response_of(exc):
                raise Pop3TransientError(f"POP3 login failed for now: {_text(exc)}") from exc
            raise Pop3AuthenticationError(f"POP3 login refused: {_text(exc)}") from exc


def _uids(pop: poplib.POP3) -> dict[int, str]:
    _response, lines, _octets = pop.uidl()
    pairs = (line.decode("ascii", "replace").split(maxsplit=1) for line in lines)
    return {int(number): uid for number, uid in pairs}


def _sizes(pop: poplib.POP3) -> dict[int, int]:
    _response, lines, _octets = pop.list()
    pairs = (line.split(maxsplit=1) for line in lines)
    return {int(number): int(size) for number, size in pairs}


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except Pop3Error:
        raise
    except poplib.error_proto as exc:
        # "-ERR EOF" (connection dropped), a line too long, or an unexpected -ERR mid-session.
        raise Pop3TransientError(f"POP3 session failed: {_text(exc)}") from exc
    except (OSError, TimeoutError) as exc:  # refused, reset, TLS failure, timeout
        raise Pop3TransientError(f"POP3 connection failed: {exc}") from exc


def _close_without_quit(pop: poplib.POP3) -> None:
    with suppress(OSError):
        pop.close()


def _response_of(exc: poplib.error_proto) -> bytes:
    first = exc.args[0] if exc.args else b""
    return first if isinstance(first, bytes) else str(first).encode()


def _text(exc: poplib.error_proto) -> str:
    return _response_of(exc).decode("utf-8", "replace")
