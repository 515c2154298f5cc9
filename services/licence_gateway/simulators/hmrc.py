"""HMRC CHIEF stand-in: licenceData arrives over SMTP, the licenceReply leaves over POP3.

CHIEF is reached only by e-mail. The simulator accepts licenceData e-mails on its SMTP server
(AUTH PLAIN/LOGIN/XOAUTH2; STARTTLS or implicit TLS), checks the attachment with the gateway's CHIEF
codec, decides every transaction's fate from a seeded mix, and files the licenceReply e-mail in
the mailbox its POP3 server serves, visible once the configured delay has passed. It can also
file usageData e-mails for the licences it accepted.

Decisions hash the seed with the run number and the transaction reference, so the same seed
gives the same outcomes whatever the order or timing of the files.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import email
import email.policy
import hashlib
import json
import logging
import os
import re
import ssl
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from licence_gateway.domain.chief import (
    ChiefFormatError,
    FileError,
    LicenceDataSummary,
    ReplyError,
    UsageToReport,
    licence_reply_file_name,
    read_licence_data,
    render_licence_reply,
    render_usage_data,
    usage_data_file_name,
    validate_licence_data_file,
)
from licence_gateway.simulators.pop3_server import (
    FolderMailbox,
    Mailbox,
    MemoryMailbox,
    Pop3Server,
    TokenCheck,
    decode_base64,
    xoauth2_credentials,
)

logger = logging.getLogger(__name__)

LICENCE_DATA_NAME = re.compile(r"CHIEF_LIVE_(?P<source>[^_]+)_licenceData_(?P<run>\d+)_\d{12}")

# CHIEF's own codes are not public; these say plainly that the simulator made them up.
REJECTION_REASONS = (
    ("1001", "Simulated rejection: trader EORI not registered with CHIEF"),
    ("1002", "Simulated rejection: licence reference already in use"),
    ("1003", "Simulated rejection: commodity code not valid on the start date"),
)
SERVER_ERROR = FileError("9", "CHIEF server application error (simulated)")


@dataclass(frozen=True)
class OutcomeMix:
    """How CHIEF answers: a share of files fails whole, the rest is decided per transaction."""

    seed: int = 0
    accept_ratio: float = 0.8  # of the transactions of a file that is read
    file_error_ratio: float = 0.0  # of the files

    def __post_init__(self) -> None:
        for name in ("accept_ratio", "file_error_ratio"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")

    def draw(self, *key: object) -> float:
        """A number in [0, 1) fixed by the seed and the key: no shared random state."""
        digest = hashlib.sha256(repr((self.seed, *key)).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def file_fails(self, run_number: str) -> bool:
        return self.draw("file", run_number) < self.file_error_ratio

    def accepts(self, run_number: str, reference: str) -> bool:
        return self.draw("transaction", run_number, reference) < self.accept_ratio

    def rejection(self, run_number: str, reference: str) -> ReplyError:
        index = int(self.draw("reason", run_number, reference) * len(REJECTION_REASONS))
        return ReplyError(*REJECTION_REASONS[index])


@dataclass(frozen=True)
class HmrcConfig:
    smtp_port: int = 0
    pop3_port: int = 0
    host: str = "127.0.0.1"
    smtp_username: str = "licence-gateway"  # empty: the SMTP server asks for no login
    smtp_password: str = "simulator"  # noqa: S105 - a local stand-in's documented login
    mailbox_user: str = "icms-mailbox@licence-gateway.local"
    mailbox_password: str = "simulator"  # noqa: S105
    reply_sender: str = "chief@hmrc.simulator.local"
    # When set, each reply carries the Authentication-Results our receiving server would stamp
    # (dkim and dmarc pass for the sender's domain) under this authserv-id.
    authserv_id: str = ""
    reply_delay: float = 1.0
    reply_line_width: int = 185  # real CHIEF pads each licenceReply line with spaces; 0: no
    mix: OutcomeMix = field(default_factory=OutcomeMix)
    mailbox_folder: Path | None = None  # None keeps the mailbox in memory
    tls_context: ssl.SSLContext | None = None  # enables STARTTLS on SMTP and STLS on POP3,
    implicit_tls: bool = False  # or TLS from the first byte (SMTPS, POP3S) on both
    status_file: Path | None = None  # totals as JSON, rewritten after each file


@dataclass(frozen=True)
class Verdict:
    """What CHIEF says about one licenceData file."""

    accepted: tuple[str, ...] = ()
    rejected: tuple[tuple[str, tuple[ReplyError, ...]], ...] = ()
    file_errors: tuple[FileError, ...] = ()


@dataclass
class Totals:
    files: int = 0
    accepted: int = 0
    rejected: int = 0
    file_errors: int = 0  # files refused whole
    usage_files: int = 0

    def count(self, verdict: Verdict) -> None:
        self.files += 1
        self.accepted += len(verdict.accepted)
        self.rejected += len(verdict.rejected)
        self.file_errors += bool(verdict.file_errors)


class HmrcSimulator:
    def __init__(self, config: HmrcConfig, token_check: TokenCheck | None = None) -> None:
        self.config = config
        self.token_check = token_check
        self.mailbox: Mailbox = (
            FolderMailbox(config.mailbox_folder) if config.mailbox_folder else MemoryMailbox()
        )
        self.pop3 = Pop3Server(
            self.mailbox,
            passwords={config.mailbox_user: config.mailbox_password},
            token_check=token_check,
            tls_context=config.tls_context,
            implicit_tls=config.implicit_tls,
            host=config.host,
            port=config.pop3_port,
        )
        self.totals = Totals()
        self.runs: dict[str, str] = {}  # run number -> sha256 of the file: CHIEF refuses reuse
        self.unreported_usage: list[UsageToReport] = []
        self.usage_run = 0
        self._smtp_server: asyncio.Server | None = None

    @property
    def smtp_port(self) -> int:
        if self._smtp_server is None:
            raise RuntimeError("the simulator's SMTP server is not started")
        port: int = self._smtp_server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        implicit = self.config.tls_context if self.config.implicit_tls else None
        self._smtp_server = await loop.create_server(
            self._smtp_protocol, self.config.host, self.config.smtp_port, ssl=implicit
        )
        await self.pop3.start()
        logger.info(
            "hmrc simulator listening",
            extra={"smtp_port": self.smtp_port, "pop3_port": self.pop3.port},
        )

    async def stop(self) -> None:
        await self.pop3.stop()
        if self._smtp_server is not None:
            self._smtp_server.close()
            await self._smtp_server.wait_closed()
            self._smtp_server = None

    def _smtp_protocol(self) -> SMTP:
        # With implicit TLS the whole connection is encrypted: nothing for STARTTLS to do.
        starttls = None if self.config.implicit_tls else self.config.tls_context
        with warnings.catch_warnings():  # a login without TLS is what a local stand-in wants
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return self._new_smtp(starttls)

    def _new_smtp(self, tls: ssl.SSLContext | None) -> SMTP:
        return LongCommandSMTP(
            SmtpHandler(self),
            hostname="hmrc-simulator",
            authenticator=self._check_password,
            auth_required=bool(self.config.smtp_username),
            auth_require_tls=tls is not None,
            require_starttls=tls is not None,
            tls_context=tls,
        )

    def _check_password(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (self.config.smtp_username, self.config.smtp_password)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    # -- receiving licenceData ---------------------------------------------------------------

    def receive(self, raw: bytes, now: float | None = None) -> str:
        """Handle one e-mail; the SMTP answer to give. The reply is filed for later delivery."""
        now = time.time() if now is None else now
        message = email.message_from_bytes(raw, policy=email.policy.default)
        attachments = list(message.iter_attachments())
        if len(attachments) != 1:
            return "550 5.6.0 expected exactly one licenceData attachment"
        name = attachments[0].get_filename() or ""
        matched = LICENCE_DATA_NAME.fullmatch(name)
        if matched is None:
            return f"550 5.6.0 attachment name {name[:80]!r} is not a licenceData file name"
        run_number, source = matched["run"], matched["source"]
        data = attachment_bytes(attachments[0])
        digest = hashlib.sha256(data).hexdigest()
        if self.runs.get(run_number) == digest:  # the gateway re-sent a mail it was unsure of
            logger.info("duplicate licenceData ignored", extra={"run_number": run_number})
            return "250 2.0.0 duplicate of a file already received; ignored"
        if run_number in self.runs:
            verdict = Verdict(file_errors=(FileError("4", f"Run {run_number} already received"),))
        else:
            verdict = self.judge(run_number, data)
        self.runs.setdefault(run_number, digest)
        self.totals.count(verdict)
        self.file_reply(run_number, source, verdict, now)
        return f"250 2.0.0 run {run_number} received"

    def judge(self, run_number: str, data: bytes) -> Verdict:
        """File errors if the file is broken or the mix says so, else one outcome per licence."""
        summary = read_file(data, run_number)
        if isinstance(summary, FileError):
            return Verdict(file_errors=(summary,))
        if self.config.mix.file_fails(run_number):
            return Verdict(file_errors=(SERVER_ERROR,))
        accepted: list[str] = []
        rejected: list[tuple[str, tuple[ReplyError, ...]]] = []
        for transaction in summary.transactions:
            reference = transaction.reference
            if self.config.mix.accepts(run_number, reference):
                accepted.append(reference)
                status = "C" if transaction.action == "cancel" else "O"
                self.unreported_usage.append(UsageToReport(transaction.licence_reference, status))
            else:
                rejected.append((reference, (self.config.mix.rejection(run_number, reference),)))
        return Verdict(tuple(accepted), tuple(rejected))

    def file_reply(self, run_number: str, source: str, verdict: Verdict, now: float) -> None:
        created = datetime.fromtimestamp(now, UTC)
        name = licence_reply_file_name(run_number, created)
        text = render_licence_reply(
            run_number=run_number,
            created_at=created,
            accepted=verdict.accepted,
            rejected=verdict.rejected,
            file_errors=verdict.file_errors,
            destination_system=source,
        )
        text = padded(text, self.config.reply_line_width)
        self.mailbox.add(self.chief_email(name, text), available_at=now + self.config.reply_delay)
        self.save_status()
        logger.info("licenceReply filed", extra={"subject": name, "verdict": repr(verdict)[:200]})

    def deliver_raw(self, raw: bytes, now: float | None = None) -> None:
        """Put any message in the mailbox as it is: tests forge mail as an attacker would."""
        self.mailbox.add(raw, available_at=time.time() if now is None else now)

    def emit_usage_data(self, now: float | None = None) -> str:
        """File a usageData e-mail for the licences accepted since the last one; its subject."""
        now = time.time() if now is None else now
        created = datetime.fromtimestamp(now, UTC)
        self.usage_run += 1
        name = usage_data_file_name(self.usage_run, created)
        text = render_usage_data(
            run_number=self.usage_run, created_at=created, usages=self.unreported_usage
        )
        self.unreported_usage = []
        self.mailbox.add(self.chief_email(name, text), available_at=now)
        self.totals.usage_files += 1
        self.save_status()
        return name

    def save_status(self) -> None:
        if self.config.status_file is not None:
            self.config.status_file.parent.mkdir(parents=True, exist_ok=True)
            partial = self.config.status_file.with_suffix(".tmp")
            partial.write_text(json.dumps(dataclasses.asdict(self.totals)))
            os.replace(partial, self.config.status_file)

    def chief_email(self, name: str, text: str) -> bytes:
        """An e-mail as CHIEF sends one: subject and attachment both named after the file."""
        message = EmailMessage()
        domain = self.config.reply_sender.rpartition("@")[2]
        if self.config.authserv_id:
            message["Authentication-Results"] = (
                f"{self.config.authserv_id}; dkim=pass (signature was verified)"
                f" header.d={domain}; dmarc=pass action=none header.from={domain}"
            )
        message["From"] = formataddr(("HMRC, CHIEF", self.config.reply_sender))
        message["To"] = self.config.mailbox_user
        message["Subject"] = name
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=domain)
        message.add_attachment(
            text.encode("ascii"), maintype="application", subtype="octet-stream", filename=name
        )
        return message.as_bytes()


def padded(text: str, width: int) -> str:
    """Fixed-width records as CHIEF writes its replies (see the fixture
    accepted_with_trailing_spaces_example): every line space-padded, each ending in LF."""
    if not width:
        return text
    return "".join(line.ljust(width) + "\n" for line in text.splitlines())


def attachment_bytes(part: Message) -> bytes:
    """The attachment's bytes. The original's legacy layout puts raw text under two
    Content-Transfer-Encoding headers (base64, then 7bit); the raw text is what was meant."""
    if len(part.get_all("Content-Transfer-Encoding") or []) > 1:
        raw = part.get_payload(decode=False)
        return str(raw).encode("ascii", "replace")
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def read_file(data: bytes, run_number: str) -> LicenceDataSummary | FileError:
    """The file's transactions, or the file error CHIEF would answer with."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return FileError("17", "File contains non-ASCII characters")
    text = text.replace("\r\n", "\n")  # SMTP turns the legacy layout's LF into CRLF
    try:
        summary = read_licence_data(text)
    except ChiefFormatError as exc:
        return FileError("18", exc.message, None if exc.line is None else str(exc.line))
    if summary.run_number != run_number:
        return FileError("5", f"Run number {summary.run_number} differs from the file name")
    problems = validate_licence_data_file(text)
    if problems:
        return FileError("18", f"File failed validation: {problems[0]}", str(problems[0].line))
    return summary


class LongCommandSMTP(SMTP):
    """aiosmtpd limits commands to 512 bytes; an XOAUTH2 line with a real token is ~2 KB."""

    command_size_limit = 8192
    command_size_limits = collections.defaultdict(lambda: 8192)  # noqa: RUF012 - aiosmtpd's API
    line_length_limit = 8192  # the reader's buffer, checked before the command limit


class SmtpHandler:
    def __init__(self, simulator: HmrcSimulator) -> None:
        self.simulator = simulator

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        return self.simulator.receive(raw)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 as aiosmtplib sends it: inline, or after an empty 334 challenge."""
        check = self.simulator.token_check
        if check is None:
            return AuthResult(success=False, handled=False, message="504 5.5.4 XOAUTH2 not enabled")
        blob = decode_base64(args[1]) if len(args) > 1 else await server.challenge_auth("")
        credentials = xoauth2_credentials(blob) if isinstance(blob, bytes) else None
        if credentials is None or not await check(*credentials):
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=credentials[0])


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(
    config: HmrcConfig, token_check: TokenCheck | None, usage_every: float | None
) -> None:
    """Run until SIGINT or SIGTERM, filing a usageData e-mail every `usage_every` seconds."""
    import signal

    simulator = HmrcSimulator(config, token_check)
    await simulator.start()
    print(  # the stack and the tests wait for this line
        f"hmrc simulator ready: smtp {config.host}:{simulator.smtp_port}"
        f" pop3 {config.host}:{simulator.pop3.port}",
        flush=True,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), usage_every)
            except TimeoutError:
                simulator.emit_usage_data()
    finally:
        await simulator.stop()
        logger.info("hmrc simulator stopped", extra={"files": simulator.totals.files})
