"""The local stack behind `make run` (and `make demo`): both APIs, both workers, the simulators.

With no database or Redis URL in the environment it starts an embedded PostgreSQL and Redis
with their data under .local/, migrates both services, prints the docs URLs and stops
everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / ".local"
BIN = Path(sys.executable).parent
GATEWAY_PORT = int(os.environ.get("STACK_GATEWAY_PORT", "8000"))
CHECKER_PORT = int(os.environ.get("STACK_CHECKER_PORT", "8001"))


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
    env.update(extra or {})
    return env


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

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def run_once(self, *argv: str) -> None:
        subprocess.run([str(BIN / argv[0]), *argv[1:]], env=self.env, check=True)

    def start(self, name: str, *argv: str) -> None:
        process = subprocess.Popen([str(BIN / argv[0]), *argv[1:]], env=self.env)
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
def running_stack(extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    backends = resolve_backends()
    stack = Stack(service_env(backends, extra_env))
    try:
        stack.run_once("licence-gateway", "migrate")
        stack.run_once("invoice-checker", "migrate")
        stack.start("licence gateway API", "licence-gateway", "serve", "--port", str(GATEWAY_PORT))
        stack.start("licence gateway worker", "licence-gateway", "worker")
        stack.start("invoice checker API", "invoice-checker", "serve", "--port", str(CHECKER_PORT))
        stack.start("invoice checker worker", "invoice-checker", "worker")
        wait_http(f"http://127.0.0.1:{GATEWAY_PORT}/healthz")
        wait_http(f"http://127.0.0.1:{CHECKER_PORT}/healthz")
        yield stack
    finally:
        stack.stop()
        del backends.handles[:]


def run(seconds: float | None) -> int:
    with running_stack() as stack:
        print(f"licence gateway docs: http://127.0.0.1:{GATEWAY_PORT}/docs", flush=True)
        print(f"invoice checker docs: http://127.0.0.1:{CHECKER_PORT}/docs", flush=True)
        say("running; press Ctrl-C to stop")
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                stack.check_alive()
                time.sleep(0.5)
        except KeyboardInterrupt:
            say("stopping")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start the whole local stack until Ctrl-C")
    run_parser.add_argument("--seconds", type=float, help="stop by itself after this long")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if args.command == "run":
        return run(args.seconds)
    return 2


if __name__ == "__main__":
    sys.exit(main())
