"""Sync faults: the invoice checker's hour sync against a misbehaving 10000ft simulator.

Each scenario starts from the same place: the 10000ft simulator (served over real HTTP) holds a
seeded account, a clean sync stores it ("old"), then the account changes on many days (hours
edited, entries deleted and added, one day emptied: "new"). The next sync runs into a fault:

- 429 storm: a run of rate-limit answers with X-RateLimit-Reset;
- 5xx: a run of 503s;
- timeouts: answers slower than the client's timeout;
- malformed JSON: bodies cut off mid-document;
- a page missing mid-range: one day's page answers 404 while its neighbours answer;
- 5xx beyond the retries: 10000ft down for longer than the client waits, mid-range;
- killed mid-sync: `invoice-checker sync hours` SIGKILLed at a seeded random moment.

Afterwards every day stored must be exactly the old day or exactly the new day, never a mix;
then a sync without faults must bring every day to the simulator's truth. A day failing either
check counts as wrong:

    reliability sync-faults: scenarios=N wrong=0 mixed_days=0 unconverged_days=0 ...

Run: python -m tests.reliability.sync_faults [--seed 1] [--only NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from starlette.responses import Response

from invoice_checker.adapters.tenkfeet import TenkfeetClient, TenkfeetError
from invoice_checker.jobs.sync import sync_hours
from invoice_checker.simulators.tenkfeet import Faults, TenkfeetWorld, create_app
from licence_gateway.simulators.serving import BackgroundServer
from tests.invoice_checker.sync_support import truncate_sync_tables
from tests.support.database import migrated_database
from tests.support.infra import redis_url_for_db

BIN = Path(sys.executable).parent
TOKEN = "sync-faults-token"
START = date(2018, 1, 1)
DAYS = 62  # two write batches (31 days each): a fault can land between them
END = START + timedelta(days=DAYS - 1)

REDIS_DB = 13  # the CLI sync needs a Redis URL; it enqueues nothing
Day = dict[int, float]  # upstream id -> hours: what a day holds


@dataclass
class Outcome:
    name: str
    sync_error: str | None  # how the faulted sync ended, None if it succeeded
    new_days_after_fault: int
    mixed_days: list[date]
    unconverged_days: list[date]

    @property
    def wrong(self) -> int:
        return len(self.mixed_days) + len(self.unconverged_days)


@dataclass
class Harness:
    engine: AsyncEngine
    database_url: str
    rng: random.Random
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)
    missing_days: set[date] = field(default_factory=set)  # their pages answer 404

    def world(self) -> TenkfeetWorld:
        return TenkfeetWorld(
            seed=self.seed,
            user_count=20,
            project_count=10,
            days=DAYS,
            entries_per_day=40,
            start=START,
            token=TOKEN,
        )

    async def stored_days(self) -> dict[date, Day]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT date, upstream_id, incurred_hours FROM invoice_checker.hour_entries"
                    " WHERE date BETWEEN :start AND :end"
                ),
                {"start": START, "end": END},
            )
            days: dict[date, Day] = {day: {} for day in days_of(START, END)}
            for day, upstream_id, hours in rows:
                days[day][upstream_id] = hours
        return days

    async def sync(self, url: str, **client_options: Any) -> None:
        sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        options = {"backoff_seconds": 0.05, **client_options}
        async with TenkfeetClient(url, TOKEN, **options) as client:
            await sync_hours(sessions, client, START, END)

    async def run(
        self, name: str, fault: Callable[[TenkfeetWorld, str], Awaitable[None]]
    ) -> Outcome:
        """Old state synced, account changed, the faulted sync, then a clean one."""
        await truncate_sync_tables(self.engine)
        world = self.world()
        with BackgroundServer(WithMissingPages(create_app(world), self.missing_days)) as server:
            url = server.url.rstrip("/")
            await self.sync(url)
            old = await self.stored_days()
            if old != truth(world):
                raise RuntimeError(f"{name}: the clean first sync does not match 10000ft")
            change_account(world, self.rng)
            new = truth(world)
            error = None
            try:
                await fault(world, url)
            except (TenkfeetError, SyncProcessKilled) as exc:
                error = f"{type(exc).__name__}: {str(exc)[:120]}"
            world.faults = Faults()
            after_fault = await self.stored_days()
            mixed = [day for day in after_fault if after_fault[day] not in (old[day], new[day])]
            moved = sum(1 for day in after_fault if after_fault[day] == new[day] != old[day])
            await self.sync(url)
            final = await self.stored_days()
            unconverged = [day for day in final if final[day] != new[day]]
        outcome = Outcome(name, error, moved, mixed, unconverged)
        self.outcomes.append(outcome)
        return outcome


class SyncProcessFailed(Exception):
    """The CLI sync exited non-zero (not by the harness's kill)."""


class SyncProcessKilled(Exception):
    """The harness killed the CLI sync."""


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def truth(world: TenkfeetWorld) -> dict[date, Day]:
    return {
        day: {entry["id"]: float(entry["hours"]) for entry in world.day_entries(day)}
        for day in days_of(START, END)
    }


def change_account(world: TenkfeetWorld, rng: random.Random) -> None:
    """Edit, delete and add entries on every third day; empty one day."""
    next_id = 90_000_000
    for day in days_of(START, END)[::3]:
        entries = world.day_entries(day)
        for entry in rng.sample(entries, 3):
            world.change_day(day, "update", {"id": entry["id"], "changes": {"hours": 6.25}})
        world.change_day(day, "delete", {"ids": [rng.choice(entries)["id"]]})
        added = dict(rng.choice(entries), id=next_id, hours=1.25)
        added["approvals"] = {"data": []}
        next_id += 1
        world.change_day(day, "add", {"entries": [added]})
    world.change_day(START + timedelta(days=DAYS // 2), "empty", {})


# --- the faults ----------------------------------------------------------------------------


def injected(faults: Faults, **client_options: Any) -> Callable[..., Awaitable[None]]:
    async def scenario(harness: Harness, world: TenkfeetWorld, url: str) -> None:
        world.faults = faults
        await harness.sync(url, **client_options)

    return scenario


async def page_missing(harness: Harness, world: TenkfeetWorld, url: str) -> None:
    """One day in the middle of the range answers 404 (its page is gone), the rest answer."""
    harness.missing_days.add(START + timedelta(days=DAYS // 2 + 5))
    try:
        await harness.sync(url)
    finally:
        harness.missing_days.clear()


class WithMissingPages:
    """The simulator's app, answering 404 for the time entries of the days named."""

    def __init__(self, app: Any, missing_days: set[date]) -> None:
        self.app = app
        self.missing_days = missing_days

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/time_entries"):
            query = parse_qs(scope["query_string"].decode())
            if any(date.fromisoformat(day) in self.missing_days for day in query.get("from", [])):
                response = Response(b'{"message": "Not found"}', 404, media_type="application/json")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def outage_mid_range(harness: Harness, world: TenkfeetWorld, url: str) -> None:
    """10000ft answers, then goes down for longer than the client retries."""
    done = 0
    original = world.time_entries_slice

    def failing_later(start: date, end: date, offset: int, limit: int) -> Any:
        nonlocal done
        done += 1
        if done == DAYS // 2 + 3:
            world.faults = Faults(server_errors=10_000)
        return original(start, end, offset, limit)

    world.time_entries_slice = failing_later  # type: ignore[method-assign]
    try:
        await harness.sync(url, max_retries=2)
    finally:
        world.time_entries_slice = original  # type: ignore[method-assign]


async def killed_mid_sync(harness: Harness, world: TenkfeetWorld, url: str) -> None:
    """`invoice-checker sync hours` in its own process, SIGKILLed at a seeded moment after its
    first batch of days committed (slow answers stretch the rest of the run)."""
    world.faults = Faults(slow=10_000, slow_seconds=0.15)
    new, before = truth(world), await harness.stored_days()
    changed = {day for day in new if new[day] != before[day]}
    env = {
        **os.environ,
        "INVOICE_CHECKER_DATABASE_URL": harness.database_url,
        "INVOICE_CHECKER_REDIS_URL": redis_url_for_db(REDIS_DB),
        "INVOICE_CHECKER_TENKFEET_API_URL": url,
        "INVOICE_CHECKER_TENKFEET_API_TOKEN": TOKEN,
    }
    argv = [str(BIN / "invoice-checker"), "sync", "hours"]
    argv += ["--start", START.isoformat(), "--end", END.isoformat()]
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    while process.returncode is None:
        stored = await harness.stored_days()
        if any(stored[day] == new[day] for day in changed):  # a batch committed
            await asyncio.sleep(harness.rng.uniform(0, 0.3))
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
            break
        await asyncio.sleep(0.02)
    code = await process.wait()
    assert process.stderr is not None
    if code == -signal.SIGKILL:
        raise SyncProcessKilled("SIGKILL mid-sync")
    if code != 0:
        raise SyncProcessFailed(f"exit {code}: {(await process.stderr.read()).decode()[-300:]}")


SCENARIOS: dict[str, Callable[..., Awaitable[None]]] = {
    # Within the client's 7 attempts: the sync must ride these out and finish.
    "429-storm": injected(Faults(rate_limited=6, reset_after_seconds=1)),
    "5xx": injected(Faults(server_errors=6)),
    "timeouts": injected(Faults(slow=4, slow_seconds=1.5), timeout=0.5),
    "malformed-json": injected(Faults(malformed=5)),
    # Beyond them: the sync fails, and what it wrote must still be whole days.
    "page-missing-mid-range": page_missing,
    "outage-beyond-retries": outage_mid_range,
    "killed-mid-sync": killed_mid_sync,
}


async def sync_faults(seed: int, database: str, only: list[str] | None) -> list[Outcome]:
    database_url = await migrated_database(database)
    engine = create_async_engine(database_url)
    harness = Harness(engine, database_url, random.Random(seed), seed)
    try:
        for name, scenario in SCENARIOS.items():
            if only and name not in only:
                continue
            started = time.monotonic()
            outcome = await harness.run(name, functools.partial(scenario, harness))
            print(
                f"  sync-faults {name}: faulted sync {outcome.sync_error or 'succeeded'};"
                f" new days after it {outcome.new_days_after_fault},"
                f" mixed {len(outcome.mixed_days)}, unconverged {len(outcome.unconverged_days)}"
                f" ({time.monotonic() - started:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    finally:
        await engine.dispose()
    return harness.outcomes


def summary_line(outcomes: list[Outcome]) -> str:
    return (
        f"reliability sync-faults: scenarios={len(outcomes)}"
        f" wrong={sum(o.wrong for o in outcomes)}"
        f" mixed_days={sum(len(o.mixed_days) for o in outcomes)}"
        f" unconverged_days={sum(len(o.unconverged_days) for o in outcomes)}"
        f" failed_syncs={sum(1 for o in outcomes if o.sync_error)}"
        f" days_per_scenario={DAYS}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", default="reliability_sync")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    logging.getLogger("invoice_checker").setLevel(logging.ERROR)  # every retry is a warning
    outcomes = asyncio.run(sync_faults(args.seed, args.database, args.only))
    print(summary_line(outcomes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
