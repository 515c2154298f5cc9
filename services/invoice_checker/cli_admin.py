"""Access administration commands: `invoice-checker create-token` and `invoice-checker user ...`
(the same operations as the API's /api/v1/access, from store.access)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import click
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.permissions import GROUPS, permissions_of
from invoice_checker.settings import get_settings
from invoice_checker.store import access
from invoice_checker.store.auth import (
    DEFAULT_TOKEN_DAYS,
    MAX_TOKEN_DAYS,
    AuthUser,
    ensure_user,
    issue_credential,
)
from service_kit.cli import fail, settings_or_exit
from service_kit.db import create_engine, create_sessionmaker
from service_kit.queue import create_redis

T = TypeVar("T")


async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]], *, access_taken: bool) -> T:
    """Run `work` in one committed transaction; then, if it took access away, tell the servers."""
    settings = settings_or_exit(get_settings)
    engine = create_engine(settings.database_url, pool_size=1, application_name="access-cli")
    try:
        async with create_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
    finally:
        await engine.dispose()
    if access_taken:
        redis = create_redis(settings.redis_url)
        try:
            await access.access_changed(redis)
        finally:
            await redis.aclose()
    return result


def _run(work: Callable[[AsyncSession], Awaitable[T]], *, access_taken: bool = False) -> T:
    try:
        return asyncio.run(_in_transaction(work, access_taken=access_taken))
    except access.AccessError as exc:
        fail(str(exc), code=1)
    except ValueError as exc:
        fail(str(exc))
    except (OSError, SQLAlchemyError, RedisError) as exc:
        fail(f"database: {exc}".splitlines()[0], code=1)


def _describe(user: AuthUser) -> str:
    state = "active" if user.active else "DEACTIVATED"
    return f"{user.email}  {state}  groups: {', '.join(user.groups) or '-'}"


EXPIRES = click.option(
    "--expires-in-days",
    type=click.IntRange(1, MAX_TOKEN_DAYS),
    default=DEFAULT_TOKEN_DAYS,
    show_default=True,
    help="the token stops working after this many days",
)


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
@EXPIRES
def create_token(email: str, groups: tuple[str, ...], name: str, expires_in_days: int) -> None:
    """Create a personal API token; the token is the last line printed."""
    if "@" not in email:
        fail(f"--email: {email!r} is not an e-mail address")

    async def work(session: AsyncSession) -> str:
        user = await ensure_user(session, email, groups=list(groups))
        if not user.active:
            raise access.AccessError(f"{user.email} is deactivated; `user reactivate` first")
        lifetime = timedelta(days=expires_in_days)
        _, secret = await issue_credential(session, user, kind="api", name=name, lifetime=lifetime)
        return secret

    secret = _run(work)
    click.echo(
        f"Token for {email.lower()} (groups: {', '.join(groups) or 'unchanged'}), "
        f"valid {expires_in_days} days:"
    )
    click.echo(secret)


@click.group()
def user() -> None:
    """People who may sign in: list, show, grant and revoke groups, deactivate, reactivate."""


@user.command("list")
def list_users() -> None:
    """Everyone known, with state and groups."""
    for person in _run(access.list_users):
        click.echo(_describe(person))


@user.command()
@click.argument("email")
def show(email: str) -> None:
    """A person: groups, permissions and API tokens."""

    async def work(session: AsyncSession) -> tuple[AuthUser, list[access.TokenRow]]:
        return await access.user_by_email(session, email), await access.tokens(session, email)

    person, tokens = _run(work)
    click.echo(_describe(person))
    click.echo(f"permissions: {', '.join(sorted(permissions_of(person.groups))) or '-'}")
    click.echo(f"last sign-in: {person.last_login_at or 'never'}")
    for row in tokens:
        token = row.credential
        state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "live"
        expires = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never"
        click.echo(f"token {token.id}  {token.name!r}  expires {expires}  {state}")


GROUP = click.argument("group", type=click.Choice(sorted(GROUPS)))


@user.command("grant")
@click.argument("email")
@GROUP
def grant(email: str, group: str) -> None:
    """Add EMAIL to GROUP."""
    click.echo(_describe(_run(lambda s: access.grant(s, email, group), access_taken=True)))


@user.command("revoke")
@click.argument("email")
@GROUP
def revoke(email: str, group: str) -> None:
    """Take EMAIL out of GROUP."""
    click.echo(_describe(_run(lambda s: access.revoke_group(s, email, group), access_taken=True)))


@user.command()
@click.argument("email")
def deactivate(email: str) -> None:
    """EMAIL can no longer sign in; every session and token of theirs ends now."""
    person, ended = _run(lambda s: access.deactivate(s, email), access_taken=True)
    click.echo(f"{_describe(person)}  ({ended} sessions and tokens ended)")


@user.command()
@click.argument("email")
def reactivate(email: str) -> None:
    """EMAIL may sign in again (old sessions and tokens stay revoked)."""
    click.echo(_describe(_run(lambda s: access.reactivate(s, email), access_taken=True)))
