"""Send licenceData e-mails to HMRC over SMTP (aiosmtplib): STARTTLS or TLS, password or XOAUTH2.

Two layouts (reference §5.2): by default a standard multipart message with the file as a base64
attachment and Date and Message-ID headers; `smtp_legacy_layout` selects the original's legacy
rendering byte for byte (raw text under a base64 header, no Date or Message-ID) for relays that
need it. Failures are either transient (4xx, connection, timeout: send again later) or permanent
(5xx, refused login, misconfiguration: an operator must act).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import ssl
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from typing import Literal

import aiosmtplib

from licence_gateway.adapters.identity import IdentityError, TokenProvider
from licence_gateway.domain.chief.syntax import to_ascii
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import require_settings

logger = logging.getLogger(__name__)


class SmtpError(Exception):
    """The e-mail was not accepted. `transient` says whether sending again later may work."""

    transient = False

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmtpTransientError(SmtpError):
    """4xx answer, connection refused or dropped, timeout: the same message may be sent again."""

    transient = True


class SmtpPermanentError(SmtpError):
    """5xx answer, login refused, server lacking a required feature: needs an operator."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    auth: Literal["password", "xoauth2", "none"]
    username: str
    password: str = field(repr=False)  # never in logs or tracebacks
    from_address: str
    to_address: str
    timeout_seconds: float = 60
    legacy_layout: bool = False
    ca_file: str = ""

    @classmethod
    def from_settings(cls, settings: LicenceGatewaySettings) -> SmtpConfig:
        """The SMTP settings; NotConfiguredError naming what is missing."""
        require_settings(settings, "E-mail sending (SMTP)", "smtp_host", "smtp_to_address")
        if settings.smtp_auth != "none":
            require_settings(settings, f"SMTP {settings.smtp_auth} login", "smtp_username")
        if settings.smtp_auth == "password":
            require_settings(settings, "SMTP password login", "smtp_password")
        from_address = settings.smtp_from_address or settings.smtp_username
        if not from_address:
            require_settings(settings, "E-mail sending (SMTP)", "smtp_from_address")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            auth=settings.smtp_auth,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            from_address=from_address,
            to_address=settings.smtp_to_address,
            timeout_seconds=settings.smtp_timeout_seconds,
            legacy_layout=settings.smtp_legacy_layout,
            ca_file=settings.tls_ca_file,
        )


def new_message_id(domain: str = "licence-gateway") -> str:
    """A fresh `<…@domain>` Message-ID; store it with the mail so a re-send reuses it."""
    return make_msgid(domain=domain)


def standard_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    file_name: str,
    text: str,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """A multipart message whose only part is the ASCII file, base64-encoded."""
    message = EmailMessage()
    message["MIME-Version"] = "1.0"
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message.add_attachment(
        to_ascii(text).encode("ascii"),
        maintype="application",
        subtype="octet-stream",
        filename=file_name,
    )
    return message


def legacy_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    file_name: str,
    text: str,
    boundary: str | None = None,
) -> Message:
    """The original's legacy layout (reference §5.2), oddities kept on purpose: a `name:` header,
    a blank text part, and the raw file under both a base64 and a 7bit transfer-encoding header.
    """
    message = MIMEMultipart(boundary=boundary)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["name"] = subject
    message.attach(MIMEText("\n\n", "plain", "iso-8859-1"))
    attachment = MIMEBase("application", "octet-stream")
    attachment["Content-Transfer-Encoding"] = "base64"
    attachment.set_payload(to_ascii(text))
    attachment.add_header("Content-Disposition", "attachment", filename=file_name)
    attachment["Content-Transfer-Encoding"] = "7bit"
    attachment["name"] = subject
    message.attach(attachment)
    return message


_STAND_IN = b"licence-gateway attachment stand-in 7f3a9c21e4b86d05"
_BASE64_LINE = 76  # the email package's (and base64.encodebytes's) line: 57 bytes encoded


_CHUNK_LINES = 1024
_CHUNK = 57 * _CHUNK_LINES  # ASCII characters per piece encoded at once: 1,024 whole lines
# a whole piece's encoding cut into its lines by one call, not a slice per line
_CHUNK_CUT = struct.Struct(f"{_BASE64_LINE}s" * _CHUNK_LINES)


def _write_base64_lines(out: io.BytesIO, text: str) -> None:
    """`base64.encodebytes` of the ASCII text, without its Python call per 57-byte line, written a
    chunk at a time: a large file's encoding never exists twice over, nor as one object per
    line at once."""
    for start in range(0, len(text), _CHUNK):
        encoded = binascii.b2a_base64(text[start : start + _CHUNK].encode("ascii"), newline=False)
        if len(encoded) == _CHUNK_CUT.size:
            lines: Sequence[bytes] = _CHUNK_CUT.unpack(encoded)
        else:  # the last piece
            lines = [encoded[at : at + _BASE64_LINE] for at in range(0, len(encoded), _BASE64_LINE)]
        out.write(b"\n".join(lines))
        out.write(b"\n")


class SmtpSender:
    """Sends files as e-mail attachments with one server and login, as configured."""

    def __init__(self, config: SmtpConfig, token_provider: TokenProvider | None = None) -> None:
        if config.auth == "xoauth2" and token_provider is None:
            raise ValueError("XOAUTH2 needs a token provider")
        self.config = config
        self._token_provider = token_provider

    async def send_licence_data(self, *, file_name: str, text: str, message_id: str) -> None:
        """Send a licenceData file to HMRC: subject and attachment name are the file name."""
        await self.deliver(self.render_licence_data(file_name, text, message_id))

    def render_licence_data(
        self, file_name: str, text: str, message_id: str, date: datetime | None = None
    ) -> bytes:
        """The licenceData e-mail as it goes out. Store these bytes to re-send them unchanged."""
        return self.render(
            recipient=self.config.to_address,
            subject=file_name,
            file_name=file_name,
            text=text,
            message_id=message_id,
            date=date,
        )

    def render(
        self,
        *,
        recipient: str,
        subject: str,
        file_name: str,
        text: str,
        message_id: str,
        date: datetime | None = None,
    ) -> bytes:
        """One text file as an e-mail attachment, in the configured layout."""
        config = self.config
        if config.legacy_layout:  # the original's layout has no Date or Message-ID
            message: Message = legacy_message(
                sender=config.from_address,
                recipient=recipient,
                subject=subject,
                file_name=file_name,
                text=text,
            )
            return message.as_bytes()
        # The email package writes a base64 body a line at a time, slowly for a large file: it
        # renders a short stand-in, and binascii's lines of the same 76 columns take its place,
        # byte for byte what it would have written.
        attachment = to_ascii(text)
        message = standard_message(
            sender=config.from_address,
            recipient=recipient,
            subject=subject,
            file_name=file_name,
            text=_STAND_IN.decode("ascii") if attachment else "",
            message_id=message_id,
            date=date or datetime.now(UTC),
        )
        rendered = message.as_bytes()
        if not attachment:
            return rendered
        head, stand_in, tail = rendered.partition(base64.encodebytes(_STAND_IN))
        if not stand_in:
            raise RuntimeError("the attachment's stand-in is missing from the rendered e-mail")
        whole = io.BytesIO()  # its getvalue() hands over the buffer, no copy
        whole.write(head)
        _write_base64_lines(whole, attachment)
        whole.write(tail)
        return whole.getvalue()

    async def send_file(
        self, *, recipient: str, subject: str, file_name: str, text: str, message_id: str
    ) -> None:
        """Send one text file as an attachment; raise SmtpTransientError or SmtpPermanentError."""
        message = self.render(
            recipient=recipient,
            subject=subject,
            file_name=file_name,
            text=text,
            message_id=message_id,
        )
        await self.deliver(message, recipient)

    async def deliver(self, data: bytes, recipient: str | None = None) -> None:
        """Hand a rendered e-mail to the server (to HMRC unless `recipient` says otherwise)."""
        await self._deliver(data, recipient or self.config.to_address)
        logger.info(
            "e-mail accepted by the SMTP server",
            extra={"recipient": recipient or self.config.to_address, "bytes": len(data)},
        )

    async def _deliver(self, data: bytes, recipient: str) -> None:
        config = self.config
        username = password = token_generator = None
        if config.auth == "password":
            username, password = config.username, config.password
        elif config.auth == "xoauth2":
            if self._token_provider is None:
                raise RuntimeError("XOAUTH2 SMTP needs a token provider")
            username, token_generator = config.username, self._token_provider.access_token
        try:
            await aiosmtplib.send(
                data,
                sender=config.from_address,
                recipients=[recipient],
                hostname=config.host,
                port=config.port,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                tls_context=_tls_context(config.ca_file),
                timeout=config.timeout_seconds,
                username=username,
                password=password,
                oauth_token_generator=token_generator,
            )
        except IdentityError as exc:
            failure = SmtpTransientError if exc.transient else SmtpPermanentError
            raise failure(f"no XOAUTH2 token for SMTP: {exc}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _classified(exc.recipients[0]) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _classified(exc) from exc
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as exc:
            raise SmtpTransientError(f"SMTP connection failed: {exc}") from exc
        except aiosmtplib.SMTPConnectError as exc:
            raise SmtpTransientError(f"cannot connect to SMTP server: {exc}") from exc
        except aiosmtplib.SMTPException as exc:  # e.g. server lacks STARTTLS or XOAUTH2
            raise SmtpPermanentError(f"SMTP server cannot do what is configured: {exc}") from exc
        except (OSError, TimeoutError) as exc:
            raise SmtpTransientError(f"SMTP connection failed: {exc}") from exc


def _classified(exc: aiosmtplib.SMTPResponseException) -> SmtpError:
    failure = SmtpTransientError if 400 <= exc.code < 500 else SmtpPermanentError
    return failure(f"SMTP server answered {exc.code} {exc.message}", code=exc.code)


def _tls_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file or None)
