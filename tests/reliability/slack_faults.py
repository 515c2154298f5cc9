"""Slack faults: the invoice checker's weekly notices against a Slack that fails mid-batch.

Each scenario seeds a fresh batch on real PostgreSQL (`reliability_slack`): people with
unsubmitted hours (most with a Slack id, some without) and projects with hours waiting for
approval (one lead, two leads sharing a group conversation, none), two admins getting copies.
The Slack stand-in (`FaultySlack`, real HTTP) then plays faults on seeded chat.postMessage calls:

- 500-before / 500-after: an HTML 500, with Slack having dropped / kept the message;
- 429: rate limited, not posted;
- timeout-before / timeout-after: no answer within the client's limit, not posted / posted;
- drop-before / drop-after: the connection closed, not posted / posted;
- mixed: a seeded mix of all of the above over a quarter of the posts;
- killed-mid-post: `invoice-checker jobs run unsubmitted-notice` SIGKILLed while Slack holds a
  message it has not confirmed;
- killed-at-random: the same, SIGKILLed right after a seeded post;
- two-workers: two such processes at once, with unconfirmed posts;
- unapproved-groups: the unapproved-hours notices (group conversations opened when sent) with
  the mixed faults.

Then the outbox is resumed (`resend_slack_outbox`, the worker's every-minute job) until nothing
waits, and every message is counted as Slack holds it. `double_sent` = messages Slack holds more
than once; `lost` = planned messages Slack never got:

    reliability slack-faults: scenarios=N double_sent=0 lost=0

Run: python -m tests.reliability.slack_faults [--only NAME] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devtools.simulators.invoice_checker.slack import SlackWorkspace
from invoice_checker.jobs.runtime import CheckerJobs
from invoice_checker.jobs.slack import (
    notice_range,
    resend_slack_outbox,
    send_unapproved_notices,
    send_unsubmitted_notices,
)
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import ProjectAdmin
from service_kit.db import create_engine, create_sessionmaker
from service_kit.queue import create_redis
from tests.invoice_checker.directory_factories import (
    make_client,
    make_entry,
    make_invoice,
    make_project,
    make_user,
)
from tests.invoice_checker.slack_support import POST_FAULTS, FaultySlack
from tests.support.database import migrated_database
from tests.support.infra import redis_url_for_db

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.path.dirname(sys.executable))
TOKEN = "xoxb-reliability"
ADMINS = ("UADMIN1", "UADMIN2")
PEOPLE, WITHOUT_SLACK = 10, 2  # unsubmitted: 8 × (1 + 2 copies) + 2 × 2 copies = 28 messages
TIMEOUT, LEASE = 1, 3.0  # seconds: the client's limit per call; how long a sender holds a row
TIMEZONE = "Europe/Helsinki"
REDIS_URL = redis_url_for_db(13)  # settings want one; nothing is queued
TABLES = (
    "slack_notification_bundles",
    "hour_entries",
    "invoices",
    "project_admins",
    "projects",
    "clients",
    "tenkfeet_users",
    "events",
)


@dataclass
class Scene:
    name: str
    rng: random.Random
    slack: FaultySlack
    settings: InvoiceCheckerSettings
    sessions: async_sessionmaker[AsyncSession]
    database_url: str
    expected: int = 0  # messages the batch must deliver
    detail: str = ""


@dataclass(frozen=True)
class Outcome:
    name: str
    expected: int
    delivered: int
    double_sent: int
    lost: int
    detail: str


def today() -> date:
    """The notices' today: the schedule's time zone, as the CLI and the worker see it."""
    return datetime.now(ZoneInfo(TIMEZONE)).date()


async def seed_unsubmitted(scene: Scene) -> None:
    _, last = notice_range(today())
    async with scene.sessions() as session:
        project = await make_project(session, "Webshop", client=await make_client(session, "Acme"))
        invoice = await make_invoice(session, project, last)
        for index in range(PEOPLE):
            slack_id = None if index < WITHOUT_SLACK else f"UP{index:04d}"
            person = await make_user(
                session, "Person", f"No{index}", email=f"p{index}@example.com", slack_id=slack_id
            )
            await make_entry(
                session,
                person,
                invoice,
                last - timedelta(days=2),
                1 + index % 7,
                status="Unsubmitted",
            )
        await session.commit()
    with_slack = PEOPLE - WITHOUT_SLACK
    scene.expected = with_slack * (1 + len(ADMINS)) + WITHOUT_SLACK * len(ADMINS)


async def seed_unapproved(scene: Scene) -> None:
    """Eight projects: four with one lead, two with two leads (a group), two with none."""
    _, last = notice_range(today())
    async with scene.sessions() as session:
        acme = await make_client(session, "Acme")
        worker = await make_user(session, "Walt", "Worker", email="walt@example.com")
        leads = [
            await make_user(
                session, "Lead", f"No{i}", email=f"l{i}@example.com", slack_id=f"UL{i:04d}"
            )
            for i in range(4)
        ]
        messages = 0
        for index in range(8):
            project = await make_project(session, f"Project {index}", client=acme)
            chosen = (
                leads[index % 4 : index % 4 + 1]
                if index < 4
                else (leads[index - 4 : index - 2] if index < 6 else [])
            )
            for lead in chosen:
                session.add(ProjectAdmin(project_guid=project.guid, user_guid=lead.guid))
            invoice = await make_invoice(session, project, last)
            await make_entry(
                session, worker, invoice, last - timedelta(days=1), 3, status="Pending Approval"
            )
            messages += (1 + len(ADMINS)) if chosen else len(ADMINS)
        await session.commit()
    scene.expected = messages


def seeded_faults(scene: Scene, kinds: tuple[str, ...], share: float) -> None:
    posts = range(1, scene.expected + 1)
    chosen = scene.rng.sample(list(posts), max(1, int(len(posts) * share)))
    scene.slack.faults = {post: scene.rng.choice(kinds) for post in chosen}


def one_fault(kind: str) -> Callable[[Scene], Awaitable[None]]:
    async def scenario(scene: Scene) -> None:
        await seed_unsubmitted(scene)
        seeded_faults(scene, (kind,), 0.15)
        first = await in_process(scene, send_unsubmitted)
        scene.detail = f"{len(scene.slack.faults)} faulted posts; first run: {first}"

    return scenario


MIXED = tuple(f for f in POST_FAULTS if f != "hang-after")


async def mixed(scene: Scene) -> None:
    await seed_unsubmitted(scene)
    seeded_faults(scene, MIXED, 0.25)
    first = await in_process(scene, send_unsubmitted)
    scene.detail = f"{len(scene.slack.faults)} faulted posts; first run: {first}"


async def unapproved_groups(scene: Scene) -> None:
    await seed_unapproved(scene)
    seeded_faults(scene, MIXED, 0.25)
    first = await in_process(scene, send_unapproved)
    scene.detail = f"{len(scene.slack.faults)} faulted posts; first run: {first}"


async def send_unsubmitted(session: AsyncSession, scene: Scene) -> str:
    first, last = notice_range(today())
    return await send_unsubmitted_notices(session, scene.settings, first, last, today=today())


async def send_unapproved(session: AsyncSession, scene: Scene) -> str:
    first, last = notice_range(today())
    return await send_unapproved_notices(session, scene.settings, first, last)


async def in_process(scene: Scene, send: Callable[[AsyncSession, Scene], Awaitable[str]]) -> str:
    async with scene.sessions() as session:
        return await send(session, scene)


def cli_env(scene: Scene) -> dict[str, str]:
    return {
        **os.environ,
        "INVOICE_CHECKER_DATABASE_URL": scene.database_url,
        "INVOICE_CHECKER_REDIS_URL": REDIS_URL,
        "INVOICE_CHECKER_SLACK_API_URL": scene.slack.base_url,
        "INVOICE_CHECKER_SLACK_BOT_TOKEN": TOKEN,
        "INVOICE_CHECKER_SLACK_NOTIFICATIONS_ADMIN": ",".join(ADMINS),
        "INVOICE_CHECKER_SLACK_TIMEOUT_SECONDS": str(TIMEOUT),
        "INVOICE_CHECKER_SLACK_OUTBOX_LEASE_SECONDS": str(LEASE),
        "INVOICE_CHECKER_SCHEDULE_TIMEZONE": TIMEZONE,
    }


async def notice_process(scene: Scene) -> asyncio.subprocess.Process:
    """`invoice-checker jobs run unsubmitted-notice` in its own process."""
    return await asyncio.create_subprocess_exec(
        os.path.join(BIN, "invoice-checker"),
        "jobs",
        "run",
        "unsubmitted-notice",
        env=cli_env(scene),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def killed_mid_post(scene: Scene) -> None:
    await seed_unsubmitted(scene)
    post = scene.rng.randrange(1, scene.expected + 1)
    scene.slack.faults = {post: "hang-after"}
    process = await notice_process(scene)
    waiting = asyncio.ensure_future(scene.slack.posted_hanging.wait())
    done, _ = await asyncio.wait(
        {waiting, asyncio.ensure_future(process.wait())},
        timeout=60,
        return_when=asyncio.FIRST_COMPLETED,
    )
    killed = waiting in done and process.returncode is None
    if killed:
        process.send_signal(signal.SIGKILL)
    await process.wait()
    waiting.cancel()
    scene.slack.release_hanging.set()
    scene.detail = f"SIGKILL while Slack held post {post} unconfirmed: {killed}"


async def killed_at_random(scene: Scene) -> None:
    await seed_unsubmitted(scene)
    post = scene.rng.randrange(1, scene.expected + 1)
    process = await notice_process(scene)
    while process.returncode is None and scene.slack.posts < post:
        await asyncio.sleep(0.005)
    killed = process.returncode is None
    if killed:
        process.send_signal(signal.SIGKILL)
    await process.wait()
    scene.detail = f"SIGKILL after post {scene.slack.posts} (aimed at {post}): {killed}"


async def two_workers(scene: Scene) -> None:
    await seed_unsubmitted(scene)
    seeded_faults(scene, ("timeout-after", "drop-after", "500-after"), 0.2)
    processes = [await notice_process(scene), await notice_process(scene)]
    said = []
    for process in processes:
        out, _ = await process.communicate()
        said.append(out.decode().strip())
    scene.detail = f"{len(scene.slack.faults)} faulted posts; the two said: {said}"


SCENARIOS: dict[str, Callable[[Scene], Awaitable[None]]] = {
    **{kind: one_fault(kind) for kind in MIXED},
    "mixed": mixed,
    "killed-mid-post": killed_mid_post,
    "killed-at-random": killed_at_random,
    "two-workers": two_workers,
    "unapproved-groups": unapproved_groups,
}


async def resume_until_done(scene: Scene, limit: float = 60) -> None:
    """The worker's every-minute resend, as often as leases allow, until nothing waits."""
    redis = create_redis(REDIS_URL)
    ctx = CheckerJobs(scene.settings, scene.sessions, redis).into({})
    deadline = time.monotonic() + limit
    scene.slack.faults = {}
    try:
        while time.monotonic() < deadline:
            said = await resend_slack_outbox(ctx)
            if said == "Nothing waiting in the Slack outbox" and not await leased(scene):
                return
            await asyncio.sleep(LEASE / 2)
    finally:
        await redis.aclose()


async def leased(scene: Scene) -> int:
    async with scene.sessions() as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM invoice_checker.slack_outbox_messages"
                " WHERE sent_at IS NULL AND failed_at IS NULL"
            )
        )
    return int(count or 0)


async def clean(sessions: async_sessionmaker[AsyncSession]) -> None:
    names = ", ".join(f"invoice_checker.{table}" for table in TABLES)
    async with sessions() as session:
        await session.execute(text(f"TRUNCATE {names} CASCADE"))
        await session.commit()


async def run_scenario(
    name: str, scenario: Callable[[Scene], Awaitable[None]], database_url: str, seed: int
) -> Outcome:
    engine = create_engine(database_url, pool_size=4, application_name="reliab-slack")
    sessions = create_sessionmaker(engine)
    slack = FaultySlack(SlackWorkspace(), tokens=[TOKEN])
    slack.delay = TIMEOUT * 2.5
    await slack.start()
    settings = InvoiceCheckerSettings(
        database_url=database_url,
        redis_url=REDIS_URL,  # not used: the notices need no queue
        slack_api_url=slack.base_url,
        slack_bot_token=SecretStr(TOKEN),
        slack_notifications_admin=",".join(ADMINS),
        slack_timeout_seconds=TIMEOUT,
        slack_outbox_lease_seconds=LEASE,
        schedule_timezone=TIMEZONE,
    )
    scene = Scene(name, random.Random(f"{seed}:{name}"), slack, settings, sessions, database_url)
    try:
        await clean(sessions)
        await scenario(scene)
        slack.release_hanging.set()
        await resume_until_done(scene)
        delivered = slack.delivered()
    finally:
        slack.release_hanging.set()
        await slack.stop()
        await engine.dispose()
    double = sum(count - 1 for count in delivered.values())
    return Outcome(
        name=name,
        expected=scene.expected,
        delivered=len(delivered),
        double_sent=double,
        lost=max(0, scene.expected - len(delivered)),
        detail=scene.detail,
    )


async def slack_faults(database: str, seed: int, only: list[str] | None = None) -> list[Outcome]:
    database_url = await migrated_database(database)
    outcomes = []
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        started = time.monotonic()
        outcome = await run_scenario(name, scenario, database_url, seed)
        outcomes.append(outcome)
        print(
            f"  slack-faults {name}: {outcome.detail}; then {outcome.delivered}/"
            f"{outcome.expected} messages in Slack, double {outcome.double_sent}"
            f" ({time.monotonic() - started:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    return outcomes


def summary_line(outcomes: list[Outcome]) -> str:
    return (
        f"reliability slack-faults: scenarios={len(outcomes)}"
        f" double_sent={sum(o.double_sent for o in outcomes)}"
        f" lost={sum(o.lost for o in outcomes)}"
        f" messages={sum(o.expected for o in outcomes)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="reliability_slack")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    outcomes = asyncio.run(slack_faults(args.database, args.seed, args.only))
    print(summary_line(outcomes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
