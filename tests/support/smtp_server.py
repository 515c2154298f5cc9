"""A real SMTP server for tests (aiosmtpd in its own thread): STARTTLS or implicit TLS, AUTH
PLAIN/LOGIN and XOAUTH2, every accepted message recorded, and fault modes to refuse or hang.

    server = LocalSmtpServer(certificate, users={"gateway": "secret"}, tokens={"tok"})
    with server:
        ... send to 127.0.0.1:server.port ...
        server.messages[0].data  # the bytes as received, CRLF line ends
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from devtools.serving import StartsAndStops
from tests.support.infra import free_port
from tests.support.tls import LocalCertificate

LIMIT = 8192  # aiosmtpd's 512-byte command limit is too small for a real ~1.8 KB OAuth token


class SmtpFault(StrEnum):
    NONE = "none"
    REFUSE_TEMPORARY = "refuse_temporary"  # 451 at DATA
    REFUSE_PERMANENT = "refuse_permanent"  # 554 at DATA
    HANG = "hang"  # never answers DATA (until the server stops)


@dataclass(frozen=True)
class ReceivedMessage:
    sender: str
    recipients: list[str]
    data: bytes
    mechanism: str | None  # PLAIN, LOGIN, XOAUTH2 or None without AUTH
    login: str | None


@dataclass(frozen=True)
class _Login:
    mechanism: str
    login: str


class _LongLinesSMTP(SMTP):
    command_size_limit = LIMIT
    line_length_limit = LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The base class's defaultdict falls back to SMTP.command_size_limit, so replace it too.
        self.command_size_limits = collections.defaultdict(lambda: LIMIT)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _LongLinesSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class _Handler:
    users: dict[str, str]
    token_is_valid: Callable[[str, str], bool]
    messages: list[ReceivedMessage] = field(default_factory=list)
    fault: SmtpFault = SmtpFault.NONE

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fault is SmtpFault.REFUSE_TEMPORARY:
            return "451 4.3.0 Mail server temporarily unavailable"
        if self.fault is SmtpFault.REFUSE_PERMANENT:
            return "554 5.7.1 Message refused by policy"
        if self.fault is SmtpFault.HANG:
            await asyncio.Event().wait()
        login = session.auth_data if isinstance(session.auth_data, _Login) else None
        self.messages.append(
            ReceivedMessage(
                sender=envelope.mail_from or "",
                recipients=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                mechanism=login.mechanism if login else None,
                login=login.login if login else None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """PLAIN and LOGIN against the user table."""
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        if self.users.get(user) == password:
            return AuthResult(success=True, auth_data=_Login(mechanism, user))
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2 as Microsoft 365 does it: on a bad token, a 334 JSON challenge, then 535."""
        if len(args) == 2:
            blob = args[1].encode()
        else:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            blob = base64.b64encode(answer)
        try:
            fields = dict(
                item.split("=", 1)
                for item in base64.b64decode(blob, validate=True).decode().split("\x01")
                if item
            )
            user, token = fields["user"], fields["auth"].removeprefix("Bearer ")
        except (ValueError, KeyError, UnicodeDecodeError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Bad XOAUTH2")
        if self.token_is_valid(user, token):
            return AuthResult(success=True, auth_data=_Login("XOAUTH2", user))
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "https://x/.default"})
        await server.challenge_auth(error)  # the client answers with an empty line
        return AuthResult(success=False, handled=False)


class LocalSmtpServer(StartsAndStops):
    """One aiosmtpd server on a free 127.0.0.1 port; `implicit_tls` for SMTPS, else STARTTLS."""

    def __init__(
        self,
        certificate: LocalCertificate,
        *,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
        tokens: set[str] | None = None,
        token_is_valid: Callable[[str, str], bool] | None = None,
        exclude_mechanisms: tuple[str, ...] = (),
    ) -> None:
        accepted = tokens or set()
        self.handler = _Handler(
            users=users or {},
            token_is_valid=token_is_valid or (lambda _user, token: token in accepted),
        )
        self.host = "127.0.0.1"
        self.port = free_port()
        context = certificate.server_context()
        tls: dict[str, Any] = (
            {"ssl_context": context, "auth_require_tls": False}  # the whole session is TLS
            if implicit_tls
            else {"tls_context": context, "require_starttls": True}
        )
        self._controller = _Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            server_hostname="127.0.0.1",
            authenticator=self.handler.authenticate,
            auth_exclude_mechanism=exclude_mechanisms,
            **tls,
        )

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    @property
    def fault(self) -> SmtpFault:
        return self.handler.fault

    @fault.setter
    def fault(self, fault: SmtpFault) -> None:
        self.handler.fault = fault

    def start(self) -> LocalSmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
