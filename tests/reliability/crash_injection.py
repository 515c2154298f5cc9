"""Crash injection for the licence flow: SIGKILL the gateway's workers and APIs again and again.

The gateway runs as deployed: two `licence-gateway serve` and two `licence-gateway worker`
replicas (arq, its cron as configured, here every minute), real subprocesses against one
PostgreSQL database and one Redis index. The harness never touches either while the processes
run: a killed job waits for arq's own recovery (its in-progress key expires, another worker
tries it again) or the next cron slot. The HMRC and ICMS simulators run in this process, so the
harness sees every file CHIEF receives and every outcome ICMS records, and can kill the workers
at exact points of the flow (both replicas: the one in the flow is not known):

- SMTP: when a licenceData e-mail arrives, before or after CHIEF takes it (the worker never sees
  the 250: the mail was delivered, or not, but never recorded as sent);
- POP3: at login (before anything is stored) and at QUIT (after the replies were committed,
  before the deletions apply, so every message comes back);
- ICMS: when a callback arrives, before or after ICMS records it (the worker never hears back).

On top of those, each worker and API process is killed after a seeded random lifetime, which
lands in batching commits, mid-RETR, mid-request and everywhere else. The ICMS simulator keeps
sending licences through all of it, at a steady rate (50 a second by default; each retried on
either API replica until taken, its p99 printed beside the kill count). Then the kills stop,
the flow settles, and the harness counts what matters to users:

    reliability crash-injection: runs=N lost=L conflicting=C duplicates_sent=D max_recovery_s=S
    replicas=2

runs: kills survived (each followed by a restart); lost: licences ICMS sent that never got a
final outcome; conflicting: licences with two different outcomes at ICMS, plus run numbers that
carried two different files, plus licenceData mails created while another was still waiting for
its reply (one batch in flight at a time); duplicates_sent: licenceData e-mails CHIEF received
again (the same bytes, re-sent after a kill: harmless, CHIEF ignores them); max_recovery_s: the
longest wait, over every arq job a killed worker was running, until a worker took that job again
(read from the workers' logs; a job never taken again counts in `unrecovered_jobs`).

Run: python -m tests.reliability.crash_injection [--kills 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import functools
import hashlib
import itertools
import json
import logging
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

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
from service_kit.queue import create_redis
from tests.reliability.load import Failover, SteadyLoad
from tests.support.database import migrated_database
from tests.support.infra import redis_url_for_db
from tests.support.processes import Respawning, api_replicas, service_env

BIN = Path(sys.executable).parent
HAWK_KEY = "crash-injection-hawk-key"
GATEWAY, MAILBOX, CHIEF, PASSWORD = "gateway@lg.test", "mailbox@lg.test", "chief@hmrc.test", "pw"


@dataclass
class Saboteur:
    """Kills the worker at a flow point, with a seeded chance, while the kill phase lasts."""

    rng: random.Random
    workers: list[Respawning]
    chance: float = 0.25
    active: bool = True
    hits: Counter[str] = field(default_factory=Counter)

    def strike(self, point: str) -> bool:
        """Kill every worker replica (which one is at this point is not known here)."""
        if not (self.active and self.rng.random() < self.chance):
            return False
        killed = [worker.kill() for worker in self.workers]
        if any(killed):
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


# arq logs a cron job by its function only ("→ cron:send_to_icms()" started, "←" done, "!"
# failed or out of tries); each mail-flow job logs its own id and try at start and its id at the
# end, which the watch follows.
ARQ_JOB = re.compile(r"(?P<waited>\d+\.\d+)s (?P<sign>[→←!↻⊘]) cron:(?P<function>[a-z_]+)")
ARQ_EXPIRED = re.compile(r"job (?P<job>cron:[a-z_]+:\d+) expired")


def parse_ts(value: str) -> float:
    """A log record's `ts` as Unix milliseconds."""
    return datetime.fromisoformat(value).timestamp() * 1000


class JobWatch:
    """Reads the workers' logs as they grow: the arq jobs each process has running; for each job
    a killed worker was running, how long until a worker took that same job again."""

    def __init__(self, workers: list[Respawning]) -> None:
        self.workers = workers
        self.offsets = {worker.name: 0 for worker in workers}
        # worker -> ids of the jobs it started and has not ended
        self.running: dict[str, set[str]] = {worker.name: set() for worker in workers}
        self.abandoned: dict[str, float] = {}  # job id -> when its worker died
        self.recovered: dict[str, float] = {}  # job id -> seconds until a worker took it again
        self.tries: Counter[int] = Counter()  # starts by try number
        self.given_up = 0  # jobs arq took again and dropped (past max_tries, or expired)

    def read(self) -> None:
        for worker in self.workers:
            if not worker.log_path.exists():
                continue
            with worker.log_path.open("rb") as log:
                log.seek(self.offsets[worker.name])
                data = log.read()
            complete = data.rfind(b"\n") + 1
            self.offsets[worker.name] += complete
            for line in data[:complete].decode(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    self._record(worker.name, record)

    def _record(self, name: str, record: dict[str, Any]) -> None:
        message = str(record.get("msg", ""))
        job = str(record.get("job_id") or "")
        if message == "mail-flow job started" and job:
            self.tries[int(record.get("job_try") or 1)] += 1
            self.running[name].add(job)
            self._taken(job)
        elif message == "mail-flow job ended" and job:
            self.running[name].discard(job)
        elif expired := ARQ_EXPIRED.search(message):  # taken again and dropped as too old
            self.given_up += 1
            self._taken(expired["job"])
        elif (matched := ARQ_JOB.search(message)) and "max retries" in message:
            # Taken again and given up past max_tries; the next cron slot does the work. arq
            # names only the function here, and how long ago the job was queued: a cron job's
            # id ends in the time it was queued for, so the waiting job of that function queued
            # closest to then is the one. (The oldest waiting one, as this once took, was
            # another job when several were waiting, and a short recovery read as a long one.)
            self.given_up += 1
            queued_ms = parse_ts(str(record.get("ts"))) - float(matched["waited"]) * 1000
            prefix = f"cron:{matched['function']}:"
            waiting = [j for j in self.unrecovered() if j.startswith(prefix)]
            if waiting:
                self._taken(min(waiting, key=lambda j: abs(int(j.rsplit(":", 1)[1]) - queued_ms)))

    def _taken(self, job: str) -> None:
        if job in self.abandoned and job not in self.recovered:
            self.recovered[job] = time.monotonic() - self.abandoned[job]

    async def died(self, worker: Respawning) -> None:
        """After a death, before the restart: what the dead process was running is abandoned."""
        self.read()
        now = time.monotonic()
        for job in self.running[worker.name]:
            self.abandoned[job] = now
            self.recovered.pop(job, None)
        self.running[worker.name] = set()

    def unrecovered(self) -> list[str]:
        return sorted(set(self.abandoned) - set(self.recovered))

    async def follow(self) -> None:
        while True:
            self.read()
            await asyncio.sleep(0.1)


@dataclass
class Result:
    runs: int
    lost: int
    conflicting: int
    duplicates_sent: int
    details: dict[str, Any]
    max_recovery_s: float = 0.0
    replicas: int = 2
    load: tuple[float, str, float] = (0.0, "", float("nan"))  # rate, requests/failed, p99 ms

    def load_line(self) -> str:
        rate, counts, p99 = self.load
        return (
            f"reliability load-held: during=crash-injection kills={self.runs}"
            f" licences_per_s={rate:g} {counts} ingest_p99_ms={p99:.0f}"
        )

    def line(self) -> str:
        return (
            f"reliability crash-injection: runs={self.runs} lost={self.lost}"
            f" conflicting={self.conflicting} duplicates_sent={self.duplicates_sent}"
            f" max_recovery_s={self.max_recovery_s:.1f} replicas={self.replicas}"
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
        # arq's cron as deployed, at its shortest slot: every mail-flow job once a minute.
        "batch_every_minutes": "1",
        "inbox_every_minutes": "1",
        "callbacks_every_minutes": "1",
    }
    return service_env("LICENCE_GATEWAY", values)


async def time_with_none_up(services: list[Respawning], stop: asyncio.Event) -> float:
    """Seconds, until `stop`, during which none of `services` was up (every API replica down:
    requests can only wait)."""
    none_up = 0.0
    last = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.05)
        now = time.monotonic()
        if not any(service.ready() for service in services):
            none_up += now - last
        last = now
    return none_up


def restart_summary(services: list[Respawning]) -> dict[str, float | None]:
    """Median and longest time from a SIGKILL to the new process's readiness."""
    restarts = [seconds for service in services for seconds in service.restarts_s]
    if not restarts:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(restarts), 1), "max": round(max(restarts), 1)}


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


def licence_sender(icms: IcmsSimulator, http: httpx.AsyncClient, replicas: Failover) -> Any:
    """The n-th request of the steady load: one new licence, sent through the load balancer
    until the gateway takes it; its latency is the wait for that."""

    async def send(number: int) -> bool:
        [record] = icms.new_licences(1)

        async def post(url: str) -> int:
            return (await icms.post_once(http, record, url)).status_code

        return await replicas.call(number, post)

    return send


async def report_every(
    seconds: float, progress: Callable[[], str], name: str = "crash-injection"
) -> None:
    while True:
        await asyncio.sleep(seconds)
        print(f"  {name}: {progress()}", file=sys.stderr, flush=True)


async def overlapping_batches(database_url: str) -> int:
    """licenceData mails created while an earlier one had not reached reply_processed (read
    once everything has stopped)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT m.created_at, (SELECT min(e.at) FROM licence_gateway.mail_events e"
                    "  WHERE e.mail_id = m.id AND e.to_status = 'reply_processed')"
                    " FROM licence_gateway.mails m WHERE m.extract_type = 'licence_data'"
                    " ORDER BY m.created_at, m.id"
                )
            )
            mails = rows.all()
    finally:
        await engine.dispose()
    overlaps = 0
    for earlier, later in itertools.pairwise(mails):
        processed = earlier[1]
        if processed is None or later[0] < processed:
            overlaps += 1
    return overlaps


def outcomes(icms: RecordingIcms, hmrc: RecordingHmrc, overlaps: int) -> Result:
    records = list(icms.licences.values())
    lost = sum(1 for record in records if record.outcome is None)
    two_files = sum(1 for digests in hmrc.files.values() if len(set(digests)) > 1)
    duplicates = sum(len(digests) - 1 for digests in hmrc.files.values())
    return Result(
        runs=0,
        lost=lost,
        conflicting=len(icms.conflicts) + two_files + overlaps,
        duplicates_sent=duplicates,
        details={
            "licences": len(records),
            "final": len(records) - lost,
            "accepted": sum(1 for r in records if r.outcome == "accepted"),
            "rejected": sum(1 for r in records if r.outcome == "rejected"),
            "outcome_conflicts": len(icms.conflicts),
            "runs_with_two_files": two_files,
            "overlapping_batches": overlaps,
            "unknown_outcomes": len(icms.unknown_outcomes),
            "licence_data_runs": len(hmrc.files),
            "hmrc_file_errors": hmrc.totals.file_errors,
            "duplicate_callbacks": sum(n - 1 for n in icms.callback_bodies.values()),
        },
    )


async def crash_injection(
    kills: int,
    seed: int,
    settle_timeout: float,
    database: str,
    redis_db: int,
    replicas: int = 2,
    rate: float = 50,
) -> Result:
    rng = random.Random(seed)
    started = time.monotonic()
    database_url = await migrated_database(database)
    redis_url = redis_url_for_db(redis_db)
    redis = create_redis(redis_url)
    await redis.flushdb()  # a fresh index before any process starts; untouched from here on
    await redis.aclose()
    logs = Path(tempfile.mkdtemp(prefix="reliability-crash-"))

    workers = [
        Respawning(f"worker-{n}", [], {}, logs / f"worker-{n}.log", ready_marker=b"mail flow ready")
        for n in range(1, replicas + 1)
    ]
    watch = JobWatch(workers)
    for worker in workers:
        worker.after_death = functools.partial(watch.died, worker)
    saboteur = Saboteur(rng, workers)
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

    env = gateway_env(database_url, redis_url, hmrc, icms_server.url)
    for worker in workers:
        worker.argv, worker.env = [str(BIN / "licence-gateway"), "worker"], env
    apis, ports = api_replicas(BIN / "licence-gateway", env, logs, replicas)
    every = [*workers, *apis]
    services = [asyncio.create_task(s.run()) for s in every]
    following = asyncio.create_task(watch.follow())
    stop_sending = asyncio.Event()
    http = httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=200))
    # ICMS keeps a licence until the gateway takes it: an hour is "never gives up" here.
    balancer = Failover([f"http://127.0.0.1:{port}/" for port in ports], patience=3600)
    load = SteadyLoad("licences in", rate, licence_sender(icms, http, balancer))

    def enough() -> bool:
        return sum(service.kills for service in every) >= kills

    def progress() -> str:
        records = icms.licences.values()
        final = sum(1 for record in records if record.outcome)
        return (
            f"kills {' '.join(f'{s.name}={s.kills}' for s in every)} licences={len(records)}"
            f" final={final} runs={len(hmrc.files)} targeted={dict(saboteur.hits)}"
            f" abandoned_jobs={len(watch.abandoned)} waiting={len(watch.unrecovered())};"
            f" {load.summary()}, replicas found down {balancer.marked_down} times"
        )

    reporter = asyncio.create_task(report_every(5, progress))

    try:
        while not all(service.ready() for service in every):
            await asyncio.sleep(0.1)
        sender = asyncio.create_task(load.run(stop_sending))  # the kill phase's load
        kills_began = time.monotonic()
        none_up = asyncio.create_task(time_with_none_up(apis, stop_sending))
        # Random lifetimes: the workers' cover batching commits and mid-RETR; the APIs', ingest.
        await asyncio.gather(
            *(kill_at_random(service, rng, (1.0, 8.0), enough) for service in every)
        )
        saboteur.active = False
        kills_over = time.monotonic()
        kill_phase_s = kills_over - kills_began
        stop_sending.set()
        await sender
        no_api_s = await none_up
        load_during_kills = load.summary()
        result_load = (load.rate, load.fields(), load.p99_ms())
        deadline = time.monotonic() + settle_timeout
        while time.monotonic() < deadline:
            if all(record.outcome for record in icms.licences.values()) and not (
                watch.unrecovered()
            ):
                break
            await asyncio.sleep(0.5)
        settled_s = time.monotonic() - kills_over
        await asyncio.sleep(2)  # anything late (a duplicate, a conflict) has time to show
    finally:
        stop_sending.set()
        balancer.close()
        reporter.cancel()
        following.cancel()
        for service in every:
            await service.stop()
        await asyncio.gather(*services, return_exceptions=True)
        icms_server.stop()
        await hmrc.stop()
        await http.aclose()

    result = outcomes(icms, hmrc, await overlapping_batches(database_url))
    result.runs = sum(service.kills for service in every)
    result.replicas = replicas
    result.load = result_load
    watch.read()
    unrecovered = watch.unrecovered()
    result.max_recovery_s = max(watch.recovered.values(), default=0.0)
    if unrecovered:
        result.max_recovery_s = float("inf")
    result.details.update(
        kills={service.name: service.kills for service in every},
        targeted_kills=dict(saboteur.hits),
        unexpected_exits=[code for service in every for code in service.other_exits],
        abandoned_jobs=len(watch.abandoned),
        unrecovered_jobs=unrecovered,
        job_starts_by_try=dict(sorted(watch.tries.items())),
        jobs_dropped_by_arq=watch.given_up,
        recovery_s_median=round(statistics.median(watch.recovered.values()), 1)
        if watch.recovered
        else None,
        settled_after_kills_s=round(settled_s, 1),
        kill_phase_s=round(kill_phase_s, 1),
        no_api_up_s=round(no_api_s, 1),
        api_restart_s=restart_summary(apis),
        worker_restart_s=restart_summary(workers),
        load=load_during_kills,
        elapsed=round(time.monotonic() - started, 1),
        logs=str(logs),
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs of worker and API")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=180)
    parser.add_argument("--database", default="reliability_crash")
    parser.add_argument("--redis-db", type=int, default=8)
    parser.add_argument("--replicas", type=int, default=2, help="of the API and of the worker")
    parser.add_argument("--rate", type=float, default=50, help="licences ICMS sends per second")
    args = parser.parse_args()
    logging.getLogger("mohawk").setLevel(logging.ERROR)  # warns on every signed response
    result = asyncio.run(
        crash_injection(
            args.kills,
            args.seed,
            args.settle_timeout,
            args.database,
            args.redis_db,
            args.replicas,
            args.rate,
        )
    )
    print(result.line(), flush=True)
    print(result.load_line(), flush=True)
    print(f"  crash-injection details: {result.details}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
