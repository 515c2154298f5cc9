"""The local stack behind `make run` (and `make demo`): both APIs, both workers, the simulators.

With no database or Redis URL in the environment it starts an embedded PostgreSQL and Redis
with their data under .local/, migrates both services, starts the HMRC and ICMS simulators with
the gateway configured against them, prints the docs URLs and stops everything cleanly on Ctrl-C.

`demo` does the same, then drives the whole licence flow and prints one summary line per part.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
LOCAL = Path(os.environ.get("STACK_LOCAL_DIR", ROOT / ".local"))  # embedded servers, demo state
BIN = Path(sys.executable).parent
GATEWAY_PORT = int(os.environ.get("STACK_GATEWAY_PORT", "8000"))
CHECKER_PORT = int(os.environ.get("STACK_CHECKER_PORT", "8001"))
ICMS_PORT = int(os.environ.get("STACK_ICMS_PORT", "8008"))
TENKFEET_PORT = int(os.environ.get("STACK_TENKFEET_PORT", "8092"))
TENKFEET_TOKEN = "stack-tenkfeet-token"  # noqa: S105 - the local 10000ft simulator's token
TENKFEET_MONTH = "2018-01"  # the month the 10000ft simulator has hours for
OIDC_PORT = int(os.environ.get("STACK_OIDC_PORT", "8090"))  # the Google sign-in stand-in
OIDC_CLIENT = ("invoice-checker", "stack-oidc-secret")  # client id and secret it accepts
HMRC_SMTP_PORT = int(os.environ.get("STACK_HMRC_SMTP_PORT", "2525"))
HMRC_POP3_PORT = int(os.environ.get("STACK_HMRC_POP3_PORT", "1110"))

# The simulated parties and the gateway must agree on these; they guard nothing real.
SIMULATOR_HAWK_KEY = "local-simulator-hawk-key-not-a-secret"
SIMULATOR_PASSWORD = "simulator"  # noqa: S105 - the local simulators' fixed login
GATEWAY_MAILBOX = "licence-gateway@licence-gateway.local"
ICMS_MAILBOX = "icms-mailbox@licence-gateway.local"
CHIEF_MAILBOX = "chief@hmrc.simulator.local"


@dataclass
class Backends:
    gateway_database_url: str
    checker_database_url: str
    redis_url: str
    handles: list[Any] = field(default_factory=list)


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def resolve_backends() -> Backends:
    """The URLs the environment names, else embedded servers under .local/."""
    env = os.environ
    gateway_db = env.get("LICENCE_GATEWAY_DATABASE_URL")
    checker_db = env.get("INVOICE_CHECKER_DATABASE_URL")
    redis_url = env.get("LICENCE_GATEWAY_REDIS_URL") or env.get("INVOICE_CHECKER_REDIS_URL")
    handles: list[Any] = []
    if not (gateway_db and checker_db):
        from service_kit.embedded import start_postgres

        say("no database URL configured: starting embedded PostgreSQL under .local/pg")
        server, url = start_postgres(LOCAL / "pg")
        handles.append(server)
        gateway_db = gateway_db or url
        checker_db = checker_db or url
    if not redis_url:
        from service_kit.embedded import start_redis

        say("no Redis URL configured: starting embedded Redis under .local/redis")
        server, redis_url = start_redis(LOCAL / "redis")
        handles.append(server)
    return Backends(gateway_db, checker_db, redis_url, handles)


def service_env(backends: Backends, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LICENCE_GATEWAY_ENVIRONMENT", "development")
    env.setdefault("INVOICE_CHECKER_ENVIRONMENT", "development")
    env.update(
        LICENCE_GATEWAY_DATABASE_URL=backends.gateway_database_url,
        INVOICE_CHECKER_DATABASE_URL=backends.checker_database_url,
        LICENCE_GATEWAY_REDIS_URL=backends.redis_url,
        INVOICE_CHECKER_REDIS_URL=backends.redis_url,
    )
    env.update(gateway_against_simulators())
    env.update(
        INVOICE_CHECKER_TENKFEET_API_URL=f"http://127.0.0.1:{TENKFEET_PORT}",
        INVOICE_CHECKER_TENKFEET_API_TOKEN=TENKFEET_TOKEN,
        # Sign-in against the OpenID Connect stand-in, over plain http on localhost.
        INVOICE_CHECKER_OIDC_ISSUER_URL=f"http://127.0.0.1:{OIDC_PORT}",
        INVOICE_CHECKER_GOOGLE_CLIENT_ID=OIDC_CLIENT[0],
        INVOICE_CHECKER_GOOGLE_CLIENT_SECRET=OIDC_CLIENT[1],
        INVOICE_CHECKER_ALLOWED_DOMAIN="example.com",
        INVOICE_CHECKER_SESSION_SECRET="stack-session-secret-not-a-secret",  # noqa: S106
        INVOICE_CHECKER_COOKIE_SECURE="false",
    )
    env.update(extra or {})
    return env


def gateway_against_simulators() -> dict[str, str]:
    """The licence gateway's settings pointing at the HMRC and ICMS simulators."""
    prefix = "LICENCE_GATEWAY_"
    settings = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(HMRC_SMTP_PORT),
        "SMTP_SECURITY": "none",
        "SMTP_AUTH": "password",
        "SMTP_USERNAME": GATEWAY_MAILBOX,
        "SMTP_PASSWORD": SIMULATOR_PASSWORD,
        "SMTP_TO_ADDRESS": CHIEF_MAILBOX,
        "POP3_HOST": "127.0.0.1",
        "POP3_PORT": str(HMRC_POP3_PORT),
        "POP3_SECURITY": "none",
        "POP3_AUTH": "password",
        "POP3_USERNAME": ICMS_MAILBOX,
        "POP3_PASSWORD": SIMULATOR_PASSWORD,
        "HMRC_SENDER_ADDRESS": CHIEF_MAILBOX,
        "ICMS_API_URL": f"http://127.0.0.1:{ICMS_PORT}/",
        "ICMS_HAWK_KEY": SIMULATOR_HAWK_KEY,
        # A local stack answers within a minute, not the production 10/5/5 minutes.
        "BATCH_EVERY_MINUTES": "1",
        "INBOX_EVERY_MINUTES": "1",
        "CALLBACKS_EVERY_MINUTES": "1",
    }
    return {prefix + name: value for name, value in settings.items()}


def hmrc_simulator_argv(state_dir: Path, *extra: str) -> list[str]:
    return [
        *("licence-gateway", "simulate", "hmrc"),
        *("--smtp-port", str(HMRC_SMTP_PORT), "--pop3-port", str(HMRC_POP3_PORT)),
        *("--smtp-username", GATEWAY_MAILBOX, "--smtp-password", SIMULATOR_PASSWORD),
        *("--mailbox-user", ICMS_MAILBOX, "--mailbox-password", SIMULATOR_PASSWORD),
        *("--reply-sender", CHIEF_MAILBOX, "--mailbox-dir", str(state_dir / "hmrc-mailbox")),
        *("--status-file", str(state_dir / "hmrc-status.json")),
        *extra,
    ]


def icms_simulator_argv(*extra: str) -> list[str]:
    return [
        *("licence-gateway", "simulate", "icms", "--port", str(ICMS_PORT)),
        *("--gateway-url", f"http://127.0.0.1:{GATEWAY_PORT}/"),
        *("--hawk-key", SIMULATOR_HAWK_KEY, "--count", "0"),
        *extra,
    ]


def tenkfeet_simulator_argv() -> list[str]:
    """10000ft with 50 users, 20 projects and 200 entries a day through TENKFEET_MONTH."""
    return [
        *("invoice-checker", "simulate", "tenkfeet", "--port", str(TENKFEET_PORT)),
        *("--token", TENKFEET_TOKEN, "--start", f"{TENKFEET_MONTH}-01", "--days", "31"),
        *("--entries-per-day", "200"),
    ]


def oidc_simulator_argv() -> list[str]:
    return [
        *("invoice-checker", "simulate", "oidc", "--port", str(OIDC_PORT)),
        *("--client-id", OIDC_CLIENT[0], "--client-secret", OIDC_CLIENT[1]),
    ]


def finance_token(stack: Stack) -> str:
    """A personal API token of a finance user, for /docs' Authorize button."""
    created = subprocess.run(
        [
            *(str(BIN / "invoice-checker"), "create-token", "--email", "finance@example.com"),
            *("--group", "finance", "--name", "make run"),
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def require_free_ports(*ports: int) -> None:
    """Refuse to start beside another stack: its servers would answer our health checks."""
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise RuntimeError(
                    f"port {port} is in use (another `make run` or `make demo`?);"
                    " stop it or move this stack with STACK_*_PORT"
                )


def wait_tcp(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


class Stack:
    """Child processes started in order and stopped in reverse, whatever happens."""

    def __init__(
        self, env: dict[str, str], state_dir: Path, log_dir: Path | None, started_at: float
    ) -> None:
        self.env = env
        self.state_dir = state_dir  # the simulators' mailbox and status files
        self.log_dir = log_dir  # None: children write to this terminal
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.started_at = started_at  # before the databases: what "the stack starting" means

    def run_once(self, *argv: str) -> None:
        self.run_all(argv)

    def run_all(self, *commands: tuple[str, ...]) -> None:
        """Run one-shot commands side by side; fail if any fails."""
        running = [subprocess.Popen([str(BIN / c[0]), *c[1:]], env=self.env) for c in commands]
        for command, process in zip(commands, running, strict=True):
            if process.wait() != 0:
                raise RuntimeError(f"{' '.join(command)} exited with code {process.returncode}")

    def start(self, name: str, *argv: str) -> None:
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name.replace(' ', '-')}.log").open("wb")
        process = subprocess.Popen(
            [str(BIN / argv[0]), *argv[1:]], env=self.env, stdout=output, stderr=output
        )
        self.processes.append((name, process))

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


@contextmanager
def running_stack(
    extra_env: dict[str, str] | None = None,
    hmrc_options: tuple[str, ...] = (),
    icms_options: tuple[str, ...] = (),
    state_dir: Path = LOCAL,
    log_dir: Path | None = None,
    fresh_state: bool = False,
) -> Iterator[Stack]:
    started_at = time.monotonic()
    require_free_ports(
        *(GATEWAY_PORT, CHECKER_PORT, ICMS_PORT, HMRC_SMTP_PORT, HMRC_POP3_PORT),
        *(TENKFEET_PORT, OIDC_PORT),
    )
    backends = resolve_backends()
    extra = {**(demo_backends_env(backends) if fresh_state else {}), **(extra_env or {})}
    stack = Stack(service_env(backends, extra), state_dir, log_dir, started_at)
    try:
        stack.run_all(("licence-gateway", "migrate"), ("invoice-checker", "migrate"))
        stack.start("hmrc simulator", *hmrc_simulator_argv(state_dir, *hmrc_options))
        stack.start("licence gateway API", "licence-gateway", "serve", "--port", str(GATEWAY_PORT))
        stack.start("licence gateway worker", "licence-gateway", "worker")
        stack.start("10000ft simulator", *tenkfeet_simulator_argv())
        stack.start("sign-in stand-in", *oidc_simulator_argv())
        stack.start("invoice checker API", "invoice-checker", "serve", "--port", str(CHECKER_PORT))
        stack.start("invoice checker worker", "invoice-checker", "worker")
        wait_tcp(HMRC_POP3_PORT)
        wait_http(f"http://127.0.0.1:{GATEWAY_PORT}/healthz")
        wait_http(f"http://127.0.0.1:{CHECKER_PORT}/healthz")
        # Idle until asked to send: `make run` leaves ICMS quiet, `make demo` asks for licences.
        stack.start("icms simulator", *icms_simulator_argv(*icms_options))
        wait_http(f"http://127.0.0.1:{ICMS_PORT}/status.json")
        yield stack
    finally:
        stack.stop()
        del backends.handles[:]


def run(seconds: float | None) -> int:
    with running_stack(hmrc_options=("--usage-every", "600")) as stack:
        print(f"licence gateway docs: http://127.0.0.1:{GATEWAY_PORT}/docs", flush=True)
        print(f"invoice checker docs: http://127.0.0.1:{CHECKER_PORT}/docs", flush=True)
        print(
            f"invoice checker web app: http://127.0.0.1:{CHECKER_PORT}/ (Sign in: the stand-in"
            f" signs in as finance@example.com; /sign-in?login_hint=EMAIL picks another account)",
            flush=True,
        )
        print(
            f"invoice checker sign-in: http://127.0.0.1:{CHECKER_PORT}/api/v1/auth/login"
            f" (stand-in Google; finance token for Authorize: {finance_token(stack)})",
            flush=True,
        )
        print(
            f"10000ft simulator: http://127.0.0.1:{TENKFEET_PORT} (hours of {TENKFEET_MONTH};"
            " `invoice-checker sync ...` with INVOICE_CHECKER_TENKFEET_API_URL pointing at it)",
            flush=True,
        )
        print(
            f"ICMS simulator status: http://127.0.0.1:{ICMS_PORT}/ (send licences:"
            f" curl -X POST 'http://127.0.0.1:{ICMS_PORT}/send?count=5')",
            flush=True,
        )
        print(
            f"HMRC simulator: SMTP 127.0.0.1:{HMRC_SMTP_PORT}, POP3 127.0.0.1:{HMRC_POP3_PORT}",
            flush=True,
        )
        say("running; press Ctrl-C to stop")
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                stack.check_alive()
                time.sleep(0.5)
        except KeyboardInterrupt:
            say("stopping")
    return 0


def wait_until_interrupted(stack: Stack) -> None:
    say("running; press Ctrl-C to stop")
    try:
        while True:
            stack.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")


# -- make demo ---------------------------------------------------------------------------------

# The gateway's mail-flow jobs run on minute crons; the demo runs them back to back instead,
# by enqueueing the worker's own cron functions (arq names them `cron:<function>`).
DEMO_JOBS = ("cron:send_licence_data", "cron:process_mailbox", "cron:send_to_icms")
DEMO_JOB_EVERY = 0.2  # seconds between looks at the queue
# Dropped and created, flushed, at the start of each demo; the tests set their own.
DEMO_DATABASE = os.environ.get("STACK_DEMO_DATABASE", "licence_invoice_demo")
DEMO_REDIS_DB = os.environ.get("STACK_DEMO_REDIS_DB", "9")


def http_json(url: str, method: str = "GET", timeout: float = 10) -> Any:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - local URL
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local URL
        return json.load(response)


def icms_status() -> dict[str, Any]:
    status: dict[str, Any] = http_json(f"http://127.0.0.1:{ICMS_PORT}/status.json")
    return status


def hmrc_status(stack: Stack) -> dict[str, int]:
    """The HMRC simulator's totals (it writes them after each file it receives)."""
    path = stack.state_dir / "hmrc-status.json"
    if not path.exists():
        return {"files": 0, "accepted": 0, "rejected": 0, "file_errors": 0}
    status: dict[str, int] = json.loads(path.read_text())
    return status


def tally(licences: list[dict[str, Any]], key: str) -> str:
    counts = collections.Counter(licence[key] for licence in licences)
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def licence_demo(stack: Stack, args: argparse.Namespace) -> bool:
    """ICMS sends licences; wait until ICMS has recorded every outcome."""
    say(f"the ICMS simulator sends {args.licences} licences to the gateway")
    flow_started = time.monotonic()
    # Answers once every licence is posted (and the gateway has stored it).
    http_json(f"http://127.0.0.1:{ICMS_PORT}/send?count={args.licences}", "POST", args.timeout)
    deadline = flow_started + args.timeout
    status = icms_status()
    while status["totals"]["final"] < args.licences and time.monotonic() < deadline:
        stack.check_alive()
        time.sleep(0.2)
        status = icms_status()
    now = time.monotonic()
    elapsed = now - stack.started_at
    totals, hmrc = status["totals"], hmrc_status(stack)
    licences = list(status["licences"].values())
    lines = [
        "",
        "Licence flow: ICMS -> gateway API -> licenceData e-mail -> HMRC CHIEF -> POP3 -> ICMS",
        f"  ICMS sent      {totals['sent']} licences ({tally(licences, 'type')};"
        f" {tally(licences, 'action')})",
        f"  HMRC answered  {hmrc['files']} licenceData run(s): {hmrc['accepted']} accepted,"
        f" {hmrc['rejected']} rejected, {hmrc['file_errors']} file error(s)",
        f"  ICMS recorded  {totals['final']} final outcomes: {totals['accepted']} accepted,"
        f" {totals['rejected']} rejected, {totals['conflicts']} conflicting",
        f"  took           {now - flow_started:.1f} s for the flow,"
        f" {elapsed:.1f} s since the stack started",
        f"  explore        http://127.0.0.1:{ICMS_PORT}/ (ICMS simulator),"
        f" http://127.0.0.1:{GATEWAY_PORT}/docs (gateway)",
    ]
    print("\n".join(lines), flush=True)
    print(
        f"demo licences: sent={totals['sent']} final={totals['final']}"
        f" accepted={totals['accepted']} rejected={totals['rejected']} runs={hmrc['files']}"
        f" elapsed={elapsed:.1f}",
        flush=True,
    )
    if totals["final"] < args.licences:
        say(f"only {totals['final']} of {args.licences} licences final after {args.timeout:.0f} s")
        return False
    return True


def invoice_demo(stack: Stack, args: argparse.Namespace) -> bool:
    """Sync users, projects and a month of hours from the 10000ft simulator; count invoices."""
    say(f"the invoice checker syncs {TENKFEET_MONTH} from the 10000ft simulator")
    wait_http(f"http://127.0.0.1:{TENKFEET_PORT}/_admin/stats")
    for kind in ("users", "projects", "leave-types", "holidays"):  # users first: admins by name
        stack.run_all(("invoice-checker", "sync", kind))
    first = f"{TENKFEET_MONTH}-01"
    last = f"{TENKFEET_MONTH}-{calendar.monthrange(*map(int, TENKFEET_MONTH.split('-')))[1]}"
    stack.run_all(("invoice-checker", "sync", "hours", "--start", first, "--end", last))
    status = subprocess.run(
        [str(BIN / "invoice-checker"), "sync", "status", "--month", TENKFEET_MONTH],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"demo {status.stdout.strip()}", flush=True)
    return True


# Each part drives one service through the running stack and says whether it succeeded.
DEMO_PARTS: list[Callable[[Stack, argparse.Namespace], bool]] = [licence_demo, invoice_demo]


def chosen(part: Callable[..., bool], only: str | None) -> bool:
    """`--only licence` picks `licence_demo`."""
    return only is None or part.__name__ == f"{only}_demo"


class JobTicker(threading.Thread):
    """Enqueues the demo jobs again whenever the gateway's queue has drained."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(name="demo-job-ticker", daemon=True)
        self.redis_url = redis_url
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._tick())

    async def _tick(self) -> None:
        from licence_gateway.jobs.worker import QUEUE_NAME
        from service_kit.queue import create_redis

        redis = create_redis(self.redis_url)
        try:
            while not self.stopping.is_set():
                # arq keeps a job in the queue's sorted set, scored by when it is due, until it
                # has finished; a job deferred for a retry (a simulator not listening yet when the
                # worker started) is due later and must not hold the others up.
                now_ms = int(time.time() * 1000)
                if await redis.zcount(QUEUE_NAME, 0, now_ms) == 0:
                    for name in DEMO_JOBS:
                        await redis.enqueue_job(name, _queue_name=QUEUE_NAME)
                await asyncio.sleep(DEMO_JOB_EVERY)
        finally:
            await redis.aclose()


def demo_backends_env(backends: Backends) -> dict[str, str]:
    """A fresh database and Redis index, so nothing from an earlier run (a mail still awaiting
    a reply that will never come) can hold the demo up."""
    import asyncpg

    server_url = backends.gateway_database_url

    async def recreate() -> None:
        dsn = with_database(server_url, "postgres").replace("postgresql+asyncpg", "postgresql")
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    database_url = with_database(server_url, DEMO_DATABASE)
    redis_url = demo_redis_url(backends.redis_url)

    async def flush() -> None:
        from service_kit.queue import create_redis

        redis = create_redis(redis_url)
        await redis.flushdb()
        await redis.aclose()

    asyncio.run(flush())
    return {
        "LICENCE_GATEWAY_DATABASE_URL": database_url,
        "INVOICE_CHECKER_DATABASE_URL": database_url,
        "LICENCE_GATEWAY_REDIS_URL": redis_url,
        "INVOICE_CHECKER_REDIS_URL": redis_url,
    }


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def demo_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return urlunsplit(parts._replace(query=f"db={DEMO_REDIS_DB}"))
    return urlunsplit(parts._replace(path=f"/{DEMO_REDIS_DB}"))


def demo(args: argparse.Namespace) -> int:
    state_dir = LOCAL / "demo"
    shutil.rmtree(state_dir, ignore_errors=True)
    hmrc_options = ("--seed", str(args.seed), "--accept-ratio", str(args.accept_ratio))
    with running_stack(
        hmrc_options=(*hmrc_options, "--reply-delay", "0.5"),
        icms_options=("--seed", str(args.seed)),
        state_dir=state_dir,
        log_dir=state_dir / "logs",
        fresh_state=True,
    ) as stack:
        say(f"stack up in {time.monotonic() - stack.started_at:.1f} s; logs in {state_dir}/logs")
        ticker = JobTicker(stack.env["LICENCE_GATEWAY_REDIS_URL"])
        ticker.start()
        try:
            results = [part(stack, args) for part in DEMO_PARTS if chosen(part, args.only)]
            if args.keep_running:
                wait_until_interrupted(stack)
        finally:
            ticker.stopping.set()
            ticker.join(timeout=5)
    return 0 if all(results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start the whole local stack until Ctrl-C")
    run_parser.add_argument("--seconds", type=float, help="stop by itself after this long")
    demo_parser = sub.add_parser("demo", help="start the stack and run the licence flow through it")
    demo_parser.add_argument("--licences", type=int, default=50, help="how many ICMS sends")
    demo_parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for all")
    demo_parser.add_argument("--seed", type=int, default=2026, help="licences and HMRC outcomes")
    demo_parser.add_argument("--accept-ratio", type=float, default=0.8, help="HMRC accepts")
    demo_parser.add_argument("--keep-running", action="store_true", help="leave the stack up")
    demo_parser.add_argument("--only", help="run one part: licence, invoice")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return run(args.seconds) if args.command == "run" else demo(args)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        say(f"{args.command} failed: {exc}")  # a process died, a port was taken, a call failed
        return 1
    except KeyboardInterrupt:
        say(f"{args.command} interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
