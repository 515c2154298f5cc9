"""The commands every service has: serve, worker, migrate, check."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from service_kit.db import create_engine
from service_kit.error_reporting import start_error_reporting
from service_kit.health import postgres_check, redis_check, run_checks
from service_kit.logging import configure_logging
from service_kit.migrations import alembic_config, upgrade
from service_kit.queue import create_redis
from service_kit.settings import (
    ServiceSettings,
    SettingsError,
    SettingsT,
    check_safe_to_start,
    masked_settings,
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    load_settings: Callable[[], ServiceSettings]
    app_factory: str
    worker_settings: Callable[[Any], dict[str, Any]]
    default_port: int


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr, no traceback."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings_or_exit(load: Callable[[], SettingsT], *, starting: bool = False) -> SettingsT:
    """Settings from `load`, or one line naming the bad variable and exit code 2. `starting`
    (a server or worker): also refuse settings unsafe in production."""
    try:
        settings = load()
        if starting:
            check_safe_to_start(settings)
    except SettingsError as exc:
        fail(str(exc))
    return settings


async def check_connections(settings: ServiceSettings) -> dict[str, str]:
    engine = create_engine(settings.database_url, pool_size=1, application_name="check")
    redis = create_redis(settings.redis_url)
    try:
        return await run_checks({"postgres": postgres_check(engine), "redis": redis_check(redis)})
    finally:
        await redis.aclose()
        await engine.dispose()


def add_standard_commands(group: click.Group, spec: ServiceSpec) -> None:
    @group.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=spec.default_port, show_default=True, type=int)
    @click.option(
        "--workers",
        type=int,
        help="Server processes  [default: one per core this process may run on]",
    )
    def serve(host: str, port: int, workers: int | None) -> None:
        """Run the HTTP API (several workers share the port through SO_REUSEPORT)."""
        from service_kit.serving import one_per_core
        from service_kit.serving import serve as serve_app

        settings = settings_or_exit(spec.load_settings, starting=True)
        configure_logging(settings.log_level)
        serve_app(
            spec.app_factory,
            host=host,
            port=port,
            workers=workers or one_per_core(),
            log_level=settings.log_level,
        )

    @group.command()
    def worker() -> None:
        """Run the arq worker: queued jobs and the cron schedule."""
        from arq.worker import run_worker

        settings = settings_or_exit(spec.load_settings, starting=True)
        configure_logging(settings.log_level)
        start_error_reporting(settings, f"{spec.name}-worker")
        run_worker(spec.worker_settings(settings))

    @group.command()
    def migrate() -> None:
        """Upgrade this service's schema to the newest migration."""
        settings = settings_or_exit(spec.load_settings)
        try:
            upgrade(spec.name, settings.database_url)
        except (OSError, ConnectionError) as exc:
            fail(f"cannot reach PostgreSQL: {exc}", 1)
        click.echo(f"{spec.name}: schema at head")

    @group.command("new-migration")
    @click.argument("message")
    def new_migration(message: str) -> None:
        """Autogenerate a migration from the models (the database must be at head)."""
        from alembic import command

        settings = settings_or_exit(spec.load_settings)
        command.revision(
            alembic_config(spec.name, settings.database_url), message=message, autogenerate=True
        )

    @group.command()
    def check() -> None:
        """Print the effective settings (secrets masked) and test each connection."""
        settings = settings_or_exit(spec.load_settings)
        for name, value in masked_settings(settings).items():
            click.echo(f"{name}={value}")
        results = asyncio.run(check_connections(settings))
        for name, result in results.items():
            click.echo(f"connection {name}: {result}")
        if any(result != "ok" for result in results.values()):
            sys.exit(1)
