"""Access administration commands: `invoice-checker create-token`."""

from __future__ import annotations

import asyncio

import click
from sqlalchemy.exc import SQLAlchemyError

from invoice_checker.domain.permissions import GROUPS
from invoice_checker.settings import InvoiceCheckerSettings, get_settings
from invoice_checker.store.auth import ensure_user, issue_credential
from service_kit.cli import fail, settings_or_exit
from service_kit.db import create_engine, create_sessionmaker


async def _create_token(
    settings: InvoiceCheckerSettings, *, email: str, groups: list[str], name: str
) -> str:
    engine = create_engine(settings.database_url, pool_size=1, application_name="create-token")
    try:
        async with create_sessionmaker(engine)() as session:
            user = await ensure_user(session, email, groups=groups)
            _, secret = await issue_credential(session, user, kind="api", name=name)
            await session.commit()
            return secret
    finally:
        await engine.dispose()


@click.command("create-token")
@click.option("--email", required=True, help="the person's e-mail (created if unknown)")
@click.option(
    "--group",
    "groups",
    multiple=True,
    type=click.Choice(sorted(GROUPS)),
    help="add the person to this group (repeatable)",
)
@click.option("--name", default="cli", show_default=True, help="what the token is for")
def create_token(email: str, groups: tuple[str, ...], name: str) -> None:
    """Create a personal API token; the token is the last line printed."""
    if "@" not in email:
        fail(f"--email: {email!r} is not an e-mail address")
    settings = settings_or_exit(get_settings)
    try:
        secret = asyncio.run(_create_token(settings, email=email, groups=list(groups), name=name))
    except (OSError, SQLAlchemyError) as exc:
        fail(f"database: {exc}".splitlines()[0], code=1)
    click.echo(f"Token for {email.lower()} (groups: {', '.join(groups) or 'unchanged'}):")
    click.echo(secret)
