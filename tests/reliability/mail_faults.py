"""Mail faults: the gateway's real SMTP and POP3 adapters and mail-flow jobs against bad mail days.

Each scenario runs the whole licence flow on real PostgreSQL and Redis: the ICMS simulator sends
licences through the gateway API (Hawk), the batching job sends the licenceData e-mail through
an SMTP relay (aiosmtpd, STARTTLS and a login) that hands what it accepts to the HMRC simulator,
whose POP3 server holds CHIEF's replies; the inbox and callback jobs bring every outcome to ICMS.
Then one thing goes wrong:

- smtp-refusing: the relay answers 451 to DATA;
- smtp-timeout: the relay never answers DATA (the client's timeout fires);
- pop3-drop-mid-retr: the connection to POP3 drops part-way through a RETR;
- malformed-email: a reply from HMRC whose MIME and attachment are broken, beside the real one;
- oversized-email: a 21 MB message from HMRC in the box, beside the real reply;
- wrong-charset: a reply whose attachment claims a charset it is not in, beside the real one;
- unexpected-sender: a perfect-looking licenceReply from someone who is not HMRC.

While the fault lasts the jobs must fail safe (the mail stays `pending`, the box untouched, the
odd message stored flagged or left in the box); once it passes, the same jobs must finish: every
licence final at ICMS, every e-mail either stored or still in the box. `lost` counts licences
without a final outcome plus e-mails gone from the box without being stored:

    reliability mail-faults: scenarios=N lost=0 resumed=N ...

Run: python -m tests.reliability.mail_faults [--only NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from licence_gateway.adapters.pop3 import Pop3Error
from licence_gateway.domain.mail_state import MailStatus
from licence_gateway.jobs.batching import SendFailed, run_batching
from licence_gateway.jobs.callbacks import run_callbacks
from licence_gateway.jobs.context import MailFlow, open_mail_flow
from licence_gateway.jobs.inbox import Envelope, run_inbox
from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.simulators.hmrc import HmrcConfig, HmrcSimulator, OutcomeMix
from licence_gateway.simulators.icms import IcmsSimulator
from licence_gateway.simulators.icms import create_app as create_icms_app
from licence_gateway.simulators.pop3_server import Mailbox, StoredMessage
from licence_gateway.simulators.serving import BackgroundServer
from licence_gateway.store.mail import Mail, ReceivedEmail
from tests.licence_gateway.mail_flow_support import empty_gateway_tables
from tests.support.database import migrated_database
from tests.support.faulty_proxy import FaultyProxy
from tests.support.infra import redis_url_for_db
from tests.support.smtp_server import LocalSmtpServer, SmtpFault
from tests.support.tls import LocalCertificate, make_local_certificate

HAWK_KEY = "mail-faults-hawk-key"
RELAY_USER, PASSWORD = "gateway@lg.test", "mail-faults-password"
MAILBOX, CHIEF, CHIEF_RELAY = "mailbox@lg.test", "chief@hmrc.test", "chief-inbox@hmrc.test"
LICENCES = 6


class StillFailing(Exception):
    """The fault did not show where it should have: the harness itself is wrong."""


class RecordingMailbox:
    """The HMRC simulator's POP3 mailbox, remembering every e-mail ever put in it."""

    def __init__(self, inner: Mailbox) -> None:
        self.inner = inner
        self.added: list[bytes] = []

    def add(self, data: bytes, *, available_at: float | None = None) -> str:
        self.added.append(data)
        return self.inner.add(data, available_at=available_at)

    def visible(self, now: float) -> list[StoredMessage]:
        return self.inner.visible(now)

    def delete(self, uids: Iterable[str]) -> None:
        self.inner.delete(uids)


@dataclass
class Scene:
    """One scenario's running parts."""

    flow: MailFlow
    relay: LocalSmtpServer
    hmrc: HmrcSimulator
    icms: IcmsSimulator
    settings: LicenceGatewaySettings
    mailbox: RecordingMailbox
    relayed: int = 0  # messages the relay handed to CHIEF

    def relay_to_chief(self) -> None:
        """What the relay accepted goes on to CHIEF (the HMRC simulator), once each."""
        for message in self.relay.messages[self.relayed :]:
            self.hmrc.receive(message.data)
        self.relayed = len(self.relay.messages)

    def use(self, **changes: Any) -> None:
        self.flow.reconfigure(self.settings.model_copy(update=changes))

    def box(self) -> list[bytes]:
        return [message.data for message in self.hmrc.mailbox.visible(time.time() + 3600)]

    def finals(self) -> int:
        return sum(1 for record in self.icms.licences.values() if record.outcome)

    async def pass_once(self) -> None:
        """One batching, mailbox and callback pass, as the worker's crons would run them."""
        await run_batching(self.flow)
        self.relay_to_chief()
        await asyncio.sleep(0.15)  # CHIEF's reply delay
        await run_inbox(self.flow)
        await run_callbacks(self.flow)

    async def settle(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.finals() < len(self.icms.licences) and time.monotonic() < deadline:
            await self.pass_once()

    async def stored_raw(self) -> list[bytes]:
        async with self.flow.sessions() as session:
            return list(await session.scalars(select(ReceivedEmail.raw)))

    async def mail_statuses(self) -> list[str]:
        async with self.flow.sessions() as session:
            return [str(s) for s in await session.scalars(select(Mail.status).order_by(Mail.id))]


def hmrc_email(
    subject: str, attachment: bytes, sender: str = CHIEF, charset: str | None = None
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = MAILBOX
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="hmrc.test")
    message.add_attachment(
        attachment, maintype="application", subtype="octet-stream", filename=subject
    )
    if charset:  # declared, whatever the bytes really are
        next(message.iter_attachments()).set_param("charset", charset)
    return message.as_bytes()


async def send_batch(scene: Scene) -> None:
    """The batch goes out; CHIEF's reply is in the box once this returns."""
    await run_batching(scene.flow)
    scene.relay_to_chief()
    await asyncio.sleep(0.15)


# --- the scenarios: each injects its fault, checks the safe failure, and clears the fault ------


async def smtp_refusing(scene: Scene) -> str:
    scene.relay.fault = SmtpFault.REFUSE_TEMPORARY
    try:
        await run_batching(scene.flow)
        raise StillFailing("the relay refused, yet batching reported success")
    except SendFailed as failed:
        detail = f"refused as {'transient' if failed.transient else 'permanent'}"
    if await scene.mail_statuses() != [MailStatus.PENDING]:
        raise StillFailing("a refused mail must stay pending")
    scene.relay.fault = SmtpFault.NONE
    return detail


async def smtp_timeout(scene: Scene) -> str:
    scene.relay.fault = SmtpFault.HANG
    started = time.monotonic()
    try:
        await run_batching(scene.flow)
        raise StillFailing("the relay hung, yet batching reported success")
    except SendFailed:
        detail = f"timed out after {time.monotonic() - started:.1f} s"
    if await scene.mail_statuses() != [MailStatus.PENDING]:
        raise StillFailing("a mail whose send timed out must stay pending")
    scene.relay.fault = SmtpFault.NONE
    return detail


async def pop3_drop_mid_retr(scene: Scene) -> str:
    await send_batch(scene)
    port = scene.settings.pop3_port
    with FaultyProxy(port, cut_after_command=b"RETR", cut_after_bytes=200) as proxy:
        scene.use(pop3_port=proxy.port)
        try:
            await run_inbox(scene.flow)
            raise StillFailing("the connection dropped mid-RETR, yet the pass succeeded")
        except Pop3Error:
            pass
        cuts = proxy.cuts
    scene.use(pop3_port=port)
    if await scene.stored_raw() or len(scene.box()) != 1:
        raise StillFailing("a pass cut mid-RETR must store and delete nothing")
    return f"{cuts} connection(s) cut mid-RETR"


async def odd_mail_beside_the_reply(scene: Scene, raw: bytes) -> str:
    """Put `raw` in the box next to CHIEF's real reply; one pass must handle both safely."""
    await send_batch(scene)
    scene.hmrc.mailbox.add(raw)
    return str(await run_inbox(scene.flow))


async def malformed_email(scene: Scene) -> str:
    """Cut off mid-attachment: base64 broken, the closing MIME boundary missing."""
    raw = hmrc_email("CHIEF_licenceReply_1_202601011200", b"\x00\x01 not a reply" * 20)
    broken = raw[: len(raw) * 2 // 3] + b"=?=\xff\xfe garbage\r\n"
    return await odd_mail_beside_the_reply(scene, broken)


async def oversized_email(scene: Scene) -> str:
    raw = hmrc_email("CHIEF_licenceReply_1_202601011200", b"1\\fileHeader\\" + b"x" * 21_000_000)
    return await odd_mail_beside_the_reply(scene, raw)


async def wrong_charset(scene: Scene) -> str:
    text = "1\\fileHeader\\CHIEF\\SPIRE\\licenceReply\\202601011200\\1\n".encode("latin-1")
    raw = hmrc_email(
        "CHIEF_licenceReply_7_202601011200", text + "é ü ©".encode("latin-1"), charset="utf-16"
    )
    return await odd_mail_beside_the_reply(scene, raw)


async def unexpected_sender(scene: Scene) -> str:
    """CHIEF's own reply, re-sent by someone else: it must be neither applied nor deleted."""
    await send_batch(scene)
    [reply] = scene.box()
    spoof = reply.replace(CHIEF.encode(), b"mallory@not-hmrc.test")
    spoof = spoof.replace(b"Message-ID: <", b"Message-ID: <spoof.")
    scene.hmrc.mailbox.delete([m.uid for m in scene.hmrc.mailbox.visible(time.time())])
    scene.hmrc.mailbox.add(spoof)
    report = await run_inbox(scene.flow)
    if await scene.stored_raw() or len(scene.box()) != 1:
        raise StillFailing("mail from an unexpected sender must be left in the box, unapplied")
    scene.hmrc.mailbox.add(reply)  # then CHIEF's real reply arrives
    return str(report)


SCENARIOS: dict[str, Callable[[Scene], Awaitable[str]]] = {
    "smtp-refusing": smtp_refusing,
    "smtp-timeout": smtp_timeout,
    "pop3-drop-mid-retr": pop3_drop_mid_retr,
    "malformed-email": malformed_email,
    "oversized-email": oversized_email,
    "wrong-charset": wrong_charset,
    "unexpected-sender": unexpected_sender,
}


# --- running one scenario ----------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    detail: str
    licences: int
    lost_licences: int
    lost_emails: int
    duplicates_sent: int
    final_statuses: list[str]

    @property
    def lost(self) -> int:
        return self.lost_licences + self.lost_emails


def gateway_settings(
    database_url: str, redis_url: str, relay: LocalSmtpServer, hmrc: HmrcSimulator, icms_url: str
) -> LicenceGatewaySettings:
    return LicenceGatewaySettings(
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        tls_ca_file=relay_certificate_file(),
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_security="starttls",
        smtp_auth="password",
        smtp_username=RELAY_USER,
        smtp_password=SecretStr(PASSWORD),
        smtp_to_address=CHIEF_RELAY,
        smtp_timeout_seconds=1.5,
        pop3_host="127.0.0.1",
        pop3_port=hmrc.pop3.port,
        pop3_security="none",
        pop3_auth="password",
        pop3_username=MAILBOX,
        pop3_password=SecretStr(PASSWORD),
        pop3_timeout_seconds=2,
        hmrc_sender_address=CHIEF,
        icms_api_url=icms_url,
        icms_hawk_key=SecretStr(HAWK_KEY),
        icms_timeout_seconds=5,
    )


_CERTIFICATE: list[LocalCertificate] = []  # made once per run, in a temporary directory


def relay_certificate() -> LocalCertificate:
    if not _CERTIFICATE:
        _CERTIFICATE.append(make_local_certificate(Path(tempfile.mkdtemp(prefix="mail-faults-"))))
    return _CERTIFICATE[0]


def relay_certificate_file() -> str:
    return relay_certificate().ca_file


async def run_scenario(
    name: str, scenario: Callable[[Scene], Awaitable[str]], database_url: str, redis_url: str
) -> Outcome:
    async with AsyncExitStack() as stack:
        relay = stack.enter_context(
            LocalSmtpServer(relay_certificate(), users={RELAY_USER: PASSWORD})
        )
        hmrc = HmrcSimulator(
            HmrcConfig(
                smtp_username="",
                mailbox_user=MAILBOX,
                mailbox_password=PASSWORD,
                reply_sender=CHIEF,
                reply_delay=0.1,
                mix=OutcomeMix(seed=len(name), accept_ratio=0.6),
            )
        )
        await hmrc.start()
        stack.push_async_callback(hmrc.stop)
        icms = IcmsSimulator(gateway_url="http://unset/", hawk_id="icms-api", hawk_key=HAWK_KEY)
        icms_server = stack.enter_context(BackgroundServer(create_icms_app(icms)))
        settings = gateway_settings(database_url, redis_url, relay, hmrc, icms_server.url)
        gateway = stack.enter_context(BackgroundServer(create_app(settings)))
        flow = await stack.enter_async_context(open_mail_flow(settings))
        await empty_gateway_tables(flow.engine)
        icms.gateway_url = gateway.url
        async with httpx.AsyncClient(timeout=30) as http:
            await icms.send(http, icms.new_licences(LICENCES), patience=30)
        scene = Scene(flow, relay, hmrc, icms, settings, RecordingMailbox(hmrc.mailbox))
        hmrc.mailbox = hmrc.pop3.mailbox = scene.mailbox

        detail = await scenario(scene)
        await scene.settle()

        kept = {Envelope.of(raw).message_id for raw in [*await scene.stored_raw(), *scene.box()]}
        lost_emails = sum(
            1 for raw in scene.mailbox.added if Envelope.of(raw).message_id not in kept
        )
        duplicates = len(relay.messages) - len({m.data for m in relay.messages})
        return Outcome(
            name=name,
            detail=detail,
            licences=len(icms.licences),
            lost_licences=len(icms.licences) - scene.finals(),
            lost_emails=lost_emails,
            duplicates_sent=duplicates,
            final_statuses=await scene.mail_statuses(),
        )


async def mail_faults(database: str, redis_db: int, only: list[str] | None) -> list[Outcome]:
    database_url = await migrated_database(database)
    redis_url = redis_url_for_db(redis_db)
    outcomes = []
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        started = time.monotonic()
        outcome = await run_scenario(name, scenario, database_url, redis_url)
        outcomes.append(outcome)
        print(
            f"  mail-faults {name}: {outcome.detail}; then"
            f" {outcome.licences - outcome.lost_licences}"
            f"/{outcome.licences} licences final at ICMS, lost e-mails {outcome.lost_emails},"
            f" mails {outcome.final_statuses} ({time.monotonic() - started:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    return outcomes


def summary_line(outcomes: list[Outcome]) -> str:
    return (
        f"reliability mail-faults: scenarios={len(outcomes)}"
        f" lost={sum(o.lost for o in outcomes)}"
        f" resumed={sum(1 for o in outcomes if o.lost_licences == 0)}"
        f" licences={sum(o.licences for o in outcomes)}"
        f" lost_emails={sum(o.lost_emails for o in outcomes)}"
        f" duplicates_sent={sum(o.duplicates_sent for o in outcomes)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="reliability_mail")
    parser.add_argument("--redis-db", type=int, default=8)  # after crash injection is done
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    logging.getLogger("mohawk").setLevel(logging.ERROR)  # warns on every signed response
    outcomes = asyncio.run(mail_faults(args.database, args.redis_db, args.only))
    print(summary_line(outcomes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
