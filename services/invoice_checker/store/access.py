"""Access administration: who may sign in, in which groups, with which tokens. The CLI
(`invoice-checker user ...`) and the API (`/api/v1/access/...`) both call these.

Every change that takes access away also bumps a counter in Redis: each server process drops
its cached sign-ins when the counter moves, so the next request is checked against the database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import InvalidResponse, RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.permissions import GROUPS
from invoice_checker.store.auth import AuthUser, Credential, revoke_all_of, revoke_credential
from service_kit.kept_redis import KeptRedis

ACCESS_EPOCH_KEY = "invoice_checker:access-epoch"
_ACCESS_EPOCH_KEY_BYTES = ACCESS_EPOCH_KEY.encode()  # read on every signed-in request


class AccessError(LookupError):
    """No such person, group or token; the message says which."""


@dataclass(frozen=True)
class TokenRow:
    credential: Credential
    email: str


async def access_changed(redis: Redis) -> None:
    """Tell every server process to forget cached sign-ins (best effort: their cache expires
    within seconds anyway)."""
    with contextlib.suppress(RedisError, OSError):
        await redis.incr(ACCESS_EPOCH_KEY)


async def access_epoch(kept: KeptRedis) -> bytes | None:
    """The counter `access_changed` bumps, read on every signed-in request (over the process's
    kept connection); raises when Redis is unreachable."""
    value = await kept.call(b"GET", _ACCESS_EPOCH_KEY_BYTES)
    if isinstance(value, int):  # GET answers a string or a null
        raise InvalidResponse(f"GET answered {value!r}")
    return value


async def list_users(session: AsyncSession) -> list[AuthUser]:
    return list(await session.scalars(select(AuthUser).order_by(AuthUser.email)))


async def user_by_email(session: AsyncSession, email: str, *, lock: bool = False) -> AuthUser:
    statement = select(AuthUser).where(AuthUser.email == email.strip().lower())
    user = await session.scalar(statement.with_for_update() if lock else statement)
    if user is None:
        raise AccessError(f"no person {email.strip().lower()}")
    return user


def _known_group(group: str) -> str:
    if group not in GROUPS:
        raise AccessError(f"no group {group!r} (known: {', '.join(sorted(GROUPS))})")
    return group


async def grant(session: AsyncSession, email: str, group: str) -> AuthUser:
    user = await user_by_email(session, email, lock=True)
    user.groups = sorted(set(user.groups) | {_known_group(group)})
    await session.flush()
    return user


async def revoke_group(session: AsyncSession, email: str, group: str) -> AuthUser:
    user = await user_by_email(session, email, lock=True)
    user.groups = sorted(set(user.groups) - {_known_group(group)})
    await session.flush()
    return user


async def deactivate(session: AsyncSession, email: str) -> tuple[AuthUser, int]:
    """The person can no longer sign in; every session and token of theirs ends now.
    Answers the person and how many credentials were live."""
    user = await user_by_email(session, email, lock=True)
    user.active = False
    ended = await revoke_all_of(session, user.id)
    await session.flush()
    return user, ended


async def reactivate(session: AsyncSession, email: str) -> AuthUser:
    """The person may sign in again (their old sessions and tokens stay revoked)."""
    user = await user_by_email(session, email, lock=True)
    user.active = True
    await session.flush()
    return user


async def deactivate_departed(session: AsyncSession, emails: Iterable[str]) -> list[str]:
    """Deactivate the active people with these e-mails (left the company); who was."""
    wanted = {email.strip().lower() for email in emails}
    if not wanted:
        return []
    users = await session.scalars(
        select(AuthUser).where(AuthUser.email.in_(wanted), AuthUser.active).with_for_update()
    )
    done = []
    for user in users:
        user.active = False
        await revoke_all_of(session, user.id)
        done.append(user.email)
    await session.flush()
    return sorted(done)


async def tokens(session: AsyncSession, email: str | None = None) -> list[TokenRow]:
    """API tokens, anyone's or one person's, newest first."""
    statement = (
        select(Credential, AuthUser.email)
        .join(AuthUser, AuthUser.id == Credential.user_id)
        .where(Credential.kind == "api")
        .order_by(Credential.id.desc())
    )
    if email is not None:
        statement = statement.where(AuthUser.email == (await user_by_email(session, email)).email)
    return [TokenRow(credential, owner) for credential, owner in await session.execute(statement)]


async def revoke_token(session: AsyncSession, token_id: int) -> None:
    """Revoke anyone's live API token."""
    if not await revoke_credential(session, credential_id=token_id, user_id=None):
        raise AccessError(f"no live API token {token_id}")
