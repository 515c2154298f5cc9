"""Crash injection for the licence flow: SIGKILL the gateway's worker and API again and again.

The gateway API and worker run as real subprocesses (`licence-gateway serve` / `worker`) against
their own PostgreSQL database and Redis index. The HMRC and ICMS simulators run in this process,
so the harness sees every file CHIEF receives and every outcome ICMS records, and can kill the
worker at exact points of the flow:

- SMTP: when a licenceData e-mail arrives, before or after CHIEF takes it (the worker never sees
  the 250: the mail was delivered, or not, but never recorded as sent);
- POP3: at login (before anything is stored) and at QUIT (after the replies were committed,
  before the deletions apply, so every message comes back);
- ICMS: when a callback arrives, before or after ICMS records it (the worker never hears back).

On top of those, each worker and API process is killed after a seeded random lifetime, which
lands in batching commits, mid-RETR, mid-request and everywhere else. The ICMS simulator keeps
sending licences through all of it. Then the kills stop, the flow settles, and the harness
counts what matters to users:

    reliability crash-injection: runs=N lost=L conflicting=C duplicates_sent=D

runs: kills survived (each followed by a restart); lost: licences ICMS sent that never got a
final outcome; conflicting: licences with two different outcomes at ICMS, plus run numbers that
carried two different files; duplicates_sent: licenceData e-mails CHIEF received again (the same
bytes, re-sent after a kill: harmless, CHIEF ignores them).

Run: python -m tests.reliability.crash_injection [--kills 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import hashlib
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools.serving import BackgroundServer
from devtools.simulators.licence_gateway.hmrc import (
    LICENCE_DATA_NAME,
    HmrcConfig,
    HmrcSimulator,
    OutcomeMix,
    attachment_bytes,
)
from devtools.simulators.licence_gateway.icms import IcmsSimulator
from devtools.simulators.licence_gateway.icms import create_app as create_icms_app
from devtools.simulators.licence_gateway.pop3_server import Mailbox, StoredMessage
from licence_gateway.jobs.worker import QUEUE_NAME
from service_kit.queue import create_redis
from tests.support.database import migrated_database
from tests.support.infra import free_port, redis_url_for_db
from tests.support.processes import JobTicker, Respawning, forget_abandoned_jobs

BIN = Path(sys.executable).parent
HAWK_KEY = "crash-injection-hawk-key"
GATEWAY, MAILBOX, CHIEF, PASSWORD = "gateway@lg.test", "mailbox@lg.test", "chief@hmrc.test", "pw"
MAIL_FLOW_JOBS = ("cron:send_licence_data", "cron:process_mailbox", "cron:send_to_icms")


@dataclass
class Saboteur:
    """Kills the worker at a flow point, with a seeded chance, while the kill phase lasts."""

    rng: random.Random
    worker: Respawning
    chance: float = 0.25
    active: bool = True
    hits: Counter[str] = field(default_factory=Counter)

    def strike(self, point: str) -> bool:
        if self.active and self.rng.random() < self.chance and self.worker.kill():
            self.hits[point] += 1
            return True
        return False


class SabotagedMailbox:
    """The HMRC simulator's POP3 mailbox, with kill points at login and at QUIT."""

    def __init__(self, inner: Mailbox, saboteur: Saboteur) -> None:
        self.inner = inner
        self.saboteur = saboteur

    def add(self, data: bytes, *, available_at: float | None = None) -> str:
        return self.inner.add(data, available_at=available_at)

    def visible(self, now: float) -> list[StoredMessage]:
        messages = self.inner.visible(now)
        if messages:  # an empty box is read on every pass: killing there tests nothing new
            self.saboteur.strike("pop3 login")
        return messages

    def delete(self, uids: Iterable[str]) -> None:
        # Killed as QUIT arrives: the client never finished the session, so nothing is deleted.
        if not self.saboteur.strike("pop3 quit"):
            self.inner.delete(uids)


class RecordingHmrc(HmrcSimulator):
    """CHIEF, remembering the digest of every licenceData file per run number."""

    def __init__(self, config: HmrcConfig, saboteur: Saboteur) -> None:
        super().__init__(config)
        self.saboteur = saboteur
        self.mailbox = self.pop3.mailbox = SabotagedMailbox(self.mailbox, saboteur)
        self.files: dict[str, list[str]] = defaultdict(list)

    def receive(self, raw: bytes, now: float | None = None) -> str:
        if self.saboteur.strike("smtp before accept"):
            return "451 4.3.0 the sender died before the mail was taken"
        answer = super().receive(raw, now)
        if answer.startswith("250"):
            run_number, digest = file_of(raw)
            self.files[run_number].append(digest)
        self.saboteur.strike("smtp after accept")
        return answer


def file_of(raw: bytes) -> tuple[str, str]:
    """(run number, sha256 of the attached licenceData file) of an accepted e-mail."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    attachment = next(iter(message.iter_attachments()))
    matched = LICENCE_DATA_NAME.fullmatch(attachment.get_filename() or "")
    assert matched is not None  # the simulator refused any other name before this point
    return matched["run"], hashlib.sha256(attachment_bytes(attachment)).hexdigest()


@dataclass
class RecordingIcms(IcmsSimulator):
    """ICMS, with kill points around recording a licenceReply callback."""

    saboteur: Saboteur | None = None
    callback_bodies: Counter[str] = field(default_factory=Counter)  # body -> times received

    def record_licence_reply(self, body: dict[str, Any]) -> None:
        assert self.saboteur is not None
        self.callback_bodies[repr(sorted(body.items()))] += 1
        if self.saboteur.strike("icms before record"):
            return  # the gateway died waiting: its POST never completed
        super().record_licence_reply(body)
        self.saboteur.strike("icms after record")


@dataclass
class Result:
    runs: int
    lost: int
    conflicting: int
    duplicates_sent: int
    details: dict[str, Any]

    def line(self) -> str:
        return (
            f"reliability crash-injection: runs={self.runs} lost={self.lost}"
            f" conflicting={self.conflicting} duplicates_sent={self.duplicates_sent}"
        )


def gateway_env(
    database_url: str, redis_url: str, hmrc: HmrcSimulator, icms_url: str
) -> dict[str, str]:
    values = {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "log_level": "INFO",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(hmrc.smtp_port),
        "smtp_security": "none",
        "smtp_username": GATEWAY,
        "smtp_password": PASSWORD,
        "smtp_to_address": CHIEF,
        "smtp_timeout_seconds": "5",
        "pop3_host": "127.0.0.1",
        "pop3_port": str(hmrc.pop3.port),
        "pop3_security": "none",
        "pop3_auth": "password",
        "pop3_username": MAILBOX,
        "pop3_password": PASSWORD,
        "pop3_timeout_seconds": "5",
        "hmrc_sender_address": CHIEF,
        "icms_api_url": icms_url,
        "icms_hawk_key": HAWK_KEY,
        "icms_timeout_seconds": "5",
        # The ticker below runs the jobs back to back; the crons stay as production has them.
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENCE_GATEWAY_")}
    env.update({f"LICENCE_GATEWAY_{name.upper()}": value for name, value in values.items()})
    return env


async def kill_at_random(
    service: Respawning, rng: random.Random, lifetime: tuple[float, float], enough: Any
) -> None:
    """Kill each process of `service` a random time after it is up, until `enough()`.

    Counted from readiness, not from the start: on a loaded machine the imports alone can take
    seconds, and kills during them would test nothing but the interpreter."""
    while not enough():
        generation = service.generation
        while not service.ready():
            await asyncio.sleep(0.05)
        await asyncio.sleep(rng.uniform(*lifetime))
        if service.generation != generation or enough() or not service.kill():
            continue  # a targeted kill got there first, or the kill phase is over
        while service.generation == generation:  # wait for the restart
            await asyncio.sleep(0.05)


async def keep_sending(icms: IcmsSimulator, gateway_url: str, stop: asyncio.Event) -> None:
    """ICMS sends a few licences at a time, retrying each until the gateway takes it."""
    icms.gateway_url = gateway_url
    async with httpx.AsyncClient(timeout=5) as http:
        while not stop.is_set():
            await icms.send(http, icms.new_licences(3), patience=3600)
            await asyncio.sleep(0.3)


async def report_every(seconds: float, progress: Callable[[], str]) -> None:
    while True:
        await asyncio.sleep(seconds)
        print(f"  crash-injection: {progress()}", file=sys.stderr, flush=True)


def outcomes(icms: RecordingIcms, hmrc: RecordingHmrc) -> Result:
    records = list(icms.licences.values())
    lost = sum(1 for record in records if record.outcome is None)
    two_files = sum(1 for digests in hmrc.files.values() if len(set(digests)) > 1)
    duplicates = sum(len(digests) - 1 for digests in hmrc.files.values())
    return Result(
        runs=0,
        lost=lost,
        conflicting=len(icms.conflicts) + two_files,
        duplicates_sent=duplicates,
        details={
            "licences": len(records),
            "final": len(records) - lost,
            "accepted": sum(1 for r in records if r.outcome == "accepted"),
            "rejected": sum(1 for r in records if r.outcome == "rejected"),
            "outcome_conflicts": len(icms.conflicts),
            "runs_with_two_files": two_files,
            "unknown_outcomes": len(icms.unknown_outcomes),
            "licence_data_runs": len(hmrc.files),
            "hmrc_file_errors": hmrc.totals.file_errors,
            "duplicate_callbacks": sum(n - 1 for n in icms.callback_bodies.values()),
        },
    )


async def crash_injection(
    kills: int, seed: int, settle_timeout: float, database: str, redis_db: int
) -> Result:
    rng = random.Random(seed)
    started = time.monotonic()
    database_url = await migrated_database(database)
    redis_url = redis_url_for_db(redis_db)
    redis = create_redis(redis_url)
    await redis.flushdb()
    logs = Path(tempfile.mkdtemp(prefix="reliability-crash-"))

    worker = Respawning(
        "worker",
        [],
        {},
        logs / "worker.log",
        after_death=lambda: forget_abandoned_jobs(redis, QUEUE_NAME),
        ready_marker=b"mail flow ready",
    )
    saboteur = Saboteur(rng, worker)
    hmrc = RecordingHmrc(
        HmrcConfig(
            smtp_username=GATEWAY,
            smtp_password=PASSWORD,
            mailbox_user=MAILBOX,
            mailbox_password=PASSWORD,
            reply_sender=CHIEF,
            reply_delay=0.2,
            mix=OutcomeMix(seed=seed, accept_ratio=0.7),
        ),
        saboteur,
    )
    await hmrc.start()
    icms = RecordingIcms(
        gateway_url="http://unset/", hawk_id="icms-api", hawk_key=HAWK_KEY, saboteur=saboteur
    )
    icms_server = BackgroundServer(create_icms_app(icms)).start()

    gateway_port = free_port()
    env = gateway_env(database_url, redis_url, hmrc, icms_server.url)
    worker.argv, worker.env = [str(BIN / "licence-gateway"), "worker"], env
    api = Respawning(
        "api",
        [str(BIN / "licence-gateway"), "serve", "--port", str(gateway_port)],
        env,
        logs / "api.log",
        ready_marker=b"Application startup complete",
    )
    services = [asyncio.create_task(s.run()) for s in (worker, api)]
    ticker = asyncio.create_task(JobTicker(redis, QUEUE_NAME, MAIL_FLOW_JOBS, worker=worker).run())
    stop_sending = asyncio.Event()
    sender = asyncio.create_task(
        keep_sending(icms, f"http://127.0.0.1:{gateway_port}/", stop_sending)
    )

    def enough() -> bool:
        return worker.kills + api.kills >= kills

    def progress() -> str:
        if ticker.done():  # a dead ticker would look like a stuck gateway
            ticker.result()
        records = icms.licences.values()
        final = sum(1 for record in records if record.outcome)
        return (
            f"kills worker={worker.kills} api={api.kills} licences={len(records)} final={final}"
            f" runs={len(hmrc.files)} targeted={dict(saboteur.hits)}"
        )

    reporter = asyncio.create_task(report_every(5, progress))

    try:
        # Random lifetimes: the worker's cover batching commits and mid-RETR; the API's, ingest.
        await asyncio.gather(
            kill_at_random(worker, rng, (0.5, 4.0), enough),
            kill_at_random(api, rng, (0.5, 4.0), enough),
        )
        saboteur.active = False
        stop_sending.set()
        await sender
        deadline = time.monotonic() + settle_timeout
        while time.monotonic() < deadline:
            if all(record.outcome for record in icms.licences.values()):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # anything late (a duplicate, a conflict) has time to show
    finally:
        ticker.cancel()
        reporter.cancel()
        for service in (worker, api):
            await service.stop()
        await asyncio.gather(*services, return_exceptions=True)
        icms_server.stop()
        await hmrc.stop()
        await redis.flushdb()
        await redis.aclose()

    result = outcomes(icms, hmrc)
    result.runs = worker.kills + api.kills
    result.details.update(
        worker_kills=worker.kills,
        api_kills=api.kills,
        targeted_kills=dict(saboteur.hits),
        unexpected_exits=worker.other_exits + api.other_exits,
        elapsed=round(time.monotonic() - started, 1),
        logs=str(logs),
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs of worker and API")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=120)
    parser.add_argument("--database", default="reliability_crash")
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()
    logging.getLogger("mohawk").setLevel(logging.ERROR)  # warns on every signed response
    result = asyncio.run(
        crash_injection(args.kills, args.seed, args.settle_timeout, args.database, args.redis_db)
    )
    print(result.line(), flush=True)
    print(f"  crash-injection details: {result.details}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
