"""Invoice checker under kills: SIGKILL API and worker replicas while syncs, notices and stats run.

Two `invoice-checker serve` and two `invoice-checker worker` replicas (arq, cron as configured:
here the hour, user and project syncs, the Slack user sync, both hour notices and the stats
refresh every minute; the two notices once each, during the kills) run against one PostgreSQL
database and one Redis index. The 10000ft stand-in (a seeded account, edited every 2 s and
answering slowly while the kills last, so kills land inside syncs) and the Slack stand-in run in
this process. Every process is SIGKILLed after a seeded random lifetime and started again; the
harness never touches the database or Redis to help. Meanwhile an hour sync is requested through
an API replica every 5 s, and the invoice list is read through the APIs at a steady rate (failed
over to the other replica while one is down, as a load balancer would).

When the kills stop, the account stops changing; the harness waits for an hour sync requested
after that to succeed, then checks:

- wrong: invoices (per project and month: hours, money, entry counts, the checks' counts) that
  differ from a clean recomputation, i.e. the same final account synced once into an empty
  database by an undisturbed process, stats refreshed;
- stuck: sync runs still queued or running at the end that were requested before the kills
  stopped (a dead worker's run must be taken up again);
- double_notices: Slack messages delivered more than once (the notices run every minute, so
  every kill lands in or near a batch).

    reliability invoice-crash: runs=N wrong=0 stuck=0 double_notices=0

Run: python -m tests.reliability.invoice_crash [--kills 40] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from devtools.serving import BackgroundServer
from devtools.simulators.invoice_checker.slack import SlackWorkspace
from devtools.simulators.invoice_checker.tenkfeet import Faults, TenkfeetWorld, create_app
from invoice_checker.adapters.tenkfeet import TenkfeetClient
from invoice_checker.jobs.schedules import HOURS_AHEAD, HOURS_BACK
from invoice_checker.jobs.sync import sync_hours, sync_projects, sync_users
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from service_kit.queue import create_redis
from tests.invoice_checker.slack_support import FaultySlack
from tests.reliability.crash_injection import kill_at_random, report_every
from tests.reliability.load import Failover, SteadyLoad
from tests.support.database import migrated_database
from tests.support.infra import redis_url_for_db
from tests.support.processes import Respawning, api_replicas, service_env

BIN = Path(sys.executable).parent
TOKEN = "invoice-crash-token"
SLACK_TOKEN = "xoxb-invoice-crash"
ADMINS = ("UADMIN1",)
TIMEZONE = "Europe/Helsinki"
SLOW_SECONDS = 0.3  # each 10000ft answer while the kills last
EVERY_MINUTE = "* * * * *"

RUNNING = (
    "sync_hours",
    "sync_users",
    "sync_projects",
    "refresh_stats",
    "slack_sync",
)  # each minute
NOTICES = ("unsubmitted_notice", "unapproved_notice")
OFF = (
    "sync_holidays",
    "aws_import",
    "flex_notice",
    "contract_checks",
    "new_project_notice",
    "housekeeping",
)
INVOICE_COLUMNS = (
    "incurred_hours",
    "incurred_money",
    "incurred_billable_hours",
    "total_entries",
    "incorrect_entries_count",
    "not_approved_hours_count",
    "no_category_count",
    "empty_descriptions_count",
    "non_billable_hours_count",
)


@dataclass
class Result:
    runs: int
    wrong: int
    stuck: int
    double_notices: int
    details: dict[str, Any]

    def line(self) -> str:
        return (
            f"reliability invoice-crash: runs={self.runs} wrong={self.wrong} stuck={self.stuck}"
            f" double_notices={self.double_notices}"
        )

    def load_line(self) -> str:
        return (
            f"reliability load-held: during=invoice-crash kills={self.runs}"
            f" invoice_list_per_s={self.details['invoice_list_rate']:g}"
            f" {self.details['invoice_list_counts']}"
            f" invoice_list_p99_ms={self.details['invoice_list_p99_ms']:.0f}"
        )


def today() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def world_of(seed: int) -> TenkfeetWorld:
    return TenkfeetWorld(
        seed=seed,
        user_count=10,
        project_count=6,
        days=28,
        entries_per_day=12,
        start=today() - timedelta(days=30),
        token=TOKEN,
    )


def env_for(database_url: str, redis_url: str, tenkfeet_url: str, slack_url: str) -> dict[str, str]:
    values = {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "log_level": "INFO",
        "tenkfeet_api_url": tenkfeet_url,
        "tenkfeet_api_token": TOKEN,
        "tenkfeet_max_retries": "2",
        "slack_api_url": slack_url,
        "slack_bot_token": SLACK_TOKEN,
        "slack_notifications_admin": ",".join(ADMINS),
        "slack_timeout_seconds": "2",
        "slack_outbox_lease_seconds": "10",
        "schedule_timezone": TIMEZONE,
        **{f"schedule_{name}": EVERY_MINUTE for name in RUNNING},
        **{f"schedule_{name}": "off" for name in OFF},
        # A batch goes out once per period: the notices run once, two and three minutes from
        # now (after the first syncs linked Slack ids), while the kills go on.
        **{
            f"schedule_{name}": f"{(datetime.now(ZoneInfo(TIMEZONE)).minute + 2 + n) % 60} * * * *"
            for n, name in enumerate(NOTICES)
        },
    }
    return service_env("INVOICE_CHECKER", values)


async def admin_token(env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "invoice-checker"),
        "create-token",
        "--email",
        "reader@example.com",
        "--group",
        "admin",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError("create-token failed")
    return out.decode().strip().splitlines()[-1]


async def keep_editing(world: TenkfeetWorld, rng: random.Random, stop: asyncio.Event) -> int:
    """Edit one entry's hours every 2 s (the syncs always have something to bring over), and
    answer slowly, so an hour sync takes seconds and the kills land inside syncs."""
    world.faults = Faults(slow=10**9, slow_seconds=SLOW_SECONDS)
    edits = 0
    days = list(world.generated_days())
    while not stop.is_set():
        day = rng.choice(days)
        entries = world.day_entries(day)
        if entries:
            entry = rng.choice(entries)
            hours = round(rng.uniform(0.5, 9.5) * 4) / 4
            world.change_day(day, "update", {"id": entry["id"], "changes": {"hours": hours}})
            edits += 1
        await asyncio.sleep(2)
    world.faults = Faults()
    return edits


async def keep_requesting_syncs(
    http: httpx.AsyncClient, ports: list[int], stop: asyncio.Event
) -> tuple[int, int]:
    """Ask an API replica for an hour sync every 5 s, as people do (a refused or dropped
    request is just counted: the next one comes)."""
    asked = refused = 0
    for turn in itertools.count():
        if stop.is_set():
            return asked, refused
        port = ports[turn % len(ports)]
        asked += 1
        try:
            response = await http.post(
                f"http://127.0.0.1:{port}/api/v1/syncs", json={"kind": "hours"}
            )
            refused += response.status_code >= 300
        except httpx.TransportError:
            refused += 1
        await asyncio.sleep(5)
    return asked, refused


async def invoices_of(engine: AsyncEngine) -> dict[tuple[int, date], tuple[float, ...]]:
    columns = ", ".join(f"i.{c}" for c in INVOICE_COLUMNS)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                f"SELECT p.project_id, i.date, {columns} FROM invoice_checker.invoices i"
                " JOIN invoice_checker.projects p ON p.guid = i.project_guid"
            )
        )
        return {(row[0], row[1]): tuple(round(float(v or 0), 2) for v in row[2:]) for row in rows}


async def clean_recomputation(database: str, tenkfeet_url: str) -> dict[Any, tuple[float, ...]]:
    """The final account synced once into an empty database, by this process, undisturbed."""
    url = await migrated_database(database)
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with TenkfeetClient(tenkfeet_url, TOKEN) as client:
            await sync_users(sessions, client)
            await sync_projects(sessions, client)
            now = today()
            start, end = now - timedelta(days=HOURS_BACK), now + timedelta(days=HOURS_AHEAD)
            await sync_hours(sessions, client, start, end, automatic_split=True)
        async with sessions() as session, session.begin():
            await refresh_invoice_stats(session)
        return await invoices_of(engine)
    finally:
        await engine.dispose()


async def sync_runs(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT id, kind, status, created_at, started_at, finished_at"
                " FROM invoice_checker.sync_runs ORDER BY id"
            )
        )
        return list(rows)


async def invoice_crash(
    kills: int, seed: int, settle_timeout: float, database: str, redis_db: int, rate: float
) -> Result:
    rng = random.Random(seed)
    started = time.monotonic()
    database_url = await migrated_database(database)
    redis_url = redis_url_for_db(redis_db)
    redis = create_redis(redis_url)
    await redis.flushdb()  # a fresh index before any process starts; untouched from here on
    await redis.aclose()
    logs = Path(tempfile.mkdtemp(prefix="reliability-invoice-crash-"))
    world = world_of(seed)
    emails = [user["email"] for user in world.users]
    slack = FaultySlack(SlackWorkspace.from_emails(emails), tokens=[SLACK_TOKEN])
    await slack.start()
    tenkfeet = BackgroundServer(create_app(world)).start()
    tenkfeet_url = tenkfeet.url.rstrip("/")
    env = env_for(database_url, redis_url, tenkfeet_url, slack.base_url)
    token = await admin_token(env)
    engine = create_async_engine(database_url)

    workers = [
        Respawning(
            f"worker-{n}",
            [str(BIN / "invoice-checker"), "worker"],
            env,
            logs / f"worker-{n}.log",
            ready_marker=b"Starting worker",
        )
        for n in (1, 2)
    ]
    apis, ports = api_replicas(BIN / "invoice-checker", env, logs, 2)
    every = [*workers, *apis]
    services = [asyncio.create_task(s.run()) for s in every]
    stop = asyncio.Event()
    editing = asyncio.create_task(keep_editing(world, rng, stop))
    http = httpx.AsyncClient(
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=200),
    )

    # A person waits a minute at most for the list; a longer wait counts as a failure.
    replicas = Failover([f"http://127.0.0.1:{port}" for port in ports], patience=60)

    async def read_invoices(number: int) -> bool:
        """One read of the first page of the invoice list, through the load balancer."""

        async def get(url: str) -> int:
            return (await http.get(f"{url}/api/v1/invoices?page_size=50")).status_code

        return await replicas.call(number, get)

    reader = SteadyLoad("invoice list", rate, read_invoices)
    requesting = asyncio.create_task(keep_requesting_syncs(http, ports, stop))

    def enough() -> bool:
        return sum(service.kills for service in every) >= kills

    def progress() -> str:
        return (
            f"kills {' '.join(f'{s.name}={s.kills}' for s in every)};"
            f" slack posts {slack.posts}; {reader.summary()}"
        )

    reporter = asyncio.create_task(report_every(10, progress, "invoice-crash"))
    try:
        # Let the first syncs bring the account over before the kills start.
        await wait_for_sync(engine, datetime.now(UTC) - timedelta(days=1), 240)
        reading = asyncio.create_task(reader.run(stop))  # the kill phase's load
        await asyncio.gather(
            *(kill_at_random(service, rng, (2.0, 10.0), enough) for service in every)
        )
        kills_over = datetime.now(UTC)
        stop.set()
        edits = await editing
        await reading
        asked, refused = await requesting
        settled = await wait_for_sync(engine, kills_over, settle_timeout)
        await asyncio.sleep(15)  # notices and the outbox's resend get their minute
        runs = await sync_runs(engine)
        stuck = [
            run.id
            for run in runs
            if run.status in ("queued", "running") and run.created_at < kills_over
        ]
    finally:
        reporter.cancel()
        stop.set()
        replicas.close()
        for service in every:
            await service.stop()
        await asyncio.gather(*services, return_exceptions=True)
        await http.aclose()

    try:
        crashed = await invoices_of(engine)
        clean = await clean_recomputation(f"{database}_clean", tenkfeet_url)
    finally:
        await engine.dispose()
        tenkfeet.stop()
        await slack.stop()
    wrong = sorted(key for key in set(crashed) | set(clean) if crashed.get(key) != clean.get(key))
    delivered = slack.delivered()
    double = sum(count - 1 for count in delivered.values())
    return Result(
        runs=sum(service.kills for service in every),
        wrong=len(wrong),
        stuck=len(stuck),
        double_notices=double,
        details={
            "kills": {service.name: service.kills for service in every},
            "unexpected_exits": [code for service in every for code in service.other_exits],
            "invoices": len(clean),
            "wrong_invoices": [f"{p}/{d}" for p, d in wrong[:10]],
            "sync_runs": len(runs),
            "sync_runs_by_status": dict(_count(run.status for run in runs)),
            "stuck_runs": stuck,
            "final_sync_succeeded": settled,
            "account_edits": edits,
            "syncs_asked_through_api": asked,
            "sync_requests_failed": refused,
            "slack_messages": len(delivered),
            "invoice_list": reader.summary(),
            "invoice_list_p99_ms": round(reader.p99_ms(), 1),
            "invoice_list_counts": reader.fields(),
            "invoice_list_rate": reader.rate,
            "elapsed": round(time.monotonic() - started, 1),
            "logs": str(logs),
        },
    )


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


async def wait_for_sync(engine: AsyncEngine, after: datetime, timeout: float) -> bool:
    """Until an hour sync requested after `after` has succeeded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with engine.connect() as connection:
            done = await connection.scalar(
                text(
                    "SELECT count(*) FROM invoice_checker.sync_runs WHERE kind = 'hours'"
                    " AND status = 'succeeded' AND created_at > :after"
                ),
                {"after": after},
            )
        if done:
            return True
        await asyncio.sleep(1)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=40, help="SIGKILLs of workers and APIs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=240)
    parser.add_argument("--database", default="reliability_invoice")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--rate", type=float, default=50, help="invoice list reads per second")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(
        invoice_crash(
            args.kills, args.seed, args.settle_timeout, args.database, args.redis_db, args.rate
        )
    )
    print(result.line(), flush=True)
    print(result.load_line(), flush=True)
    print(f"  invoice-crash details: {result.details}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
