"""People who sign in, and their credentials (browser sessions and personal API tokens).

A credential is a random secret handed out once; only its SHA-256 is stored, so a database dump
gives no way in. Sessions and API tokens share one table and one lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from invoice_checker.domain.permissions import Principal, permissions_of
from invoice_checker.store.base import Base

CredentialKind = Literal["session", "api"]
TOKEN_PREFIX = {"session": "ics_", "api": "ict_"}
# API tokens always expire: 90 days unless asked otherwise, never more than a year.
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365


class AuthUser(Base):
    __tablename__ = "auth_users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)  # lower-cased
    name: Mapped[str | None] = mapped_column(String(255))
    groups: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Credential(Base):
    __tablename__ = "auth_credentials"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("auth_users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # "session" or "api"
    name: Mapped[str] = mapped_column(String(100))  # what the owner called the token
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The browser session a token was minted from: signing out revokes the token too.
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_credentials.id", ondelete="SET NULL"), index=True
    )


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def ensure_user(
    session: AsyncSession, email: str, *, groups: list[str] | None = None, name: str | None = None
) -> AuthUser:
    """The user with this e-mail, created when missing; `groups` (if given) are added."""
    email = email.strip().lower()
    statement = (
        insert(AuthUser)
        .values(email=email, name=name, groups=sorted(set(groups or [])))
        .on_conflict_do_nothing(index_elements=[AuthUser.email])
    )
    await session.execute(statement)
    user = (await session.execute(select(AuthUser).where(AuthUser.email == email))).scalar_one()
    if groups and not set(groups) <= set(user.groups):
        user.groups = sorted(set(user.groups) | set(groups))
    if name and not user.name:
        user.name = name
    await session.flush()
    return user


async def issue_credential(
    session: AsyncSession,
    user: AuthUser,
    *,
    kind: CredentialKind,
    name: str,
    lifetime: timedelta | None = None,
    session_id: int | None = None,
) -> tuple[Credential, str]:
    """A new credential and its secret, which is shown to its owner once and never stored.
    An API token lives `DEFAULT_TOKEN_DAYS` unless `lifetime` says otherwise, at most a year."""
    if kind == "api":
        lifetime = lifetime or timedelta(days=DEFAULT_TOKEN_DAYS)
        if lifetime > timedelta(days=MAX_TOKEN_DAYS):
            raise ValueError(f"an API token lives at most {MAX_TOKEN_DAYS} days")
    secret = TOKEN_PREFIX[kind] + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    credential = Credential(
        user_id=user.id,
        kind=kind,
        name=name,
        secret_sha256=digest(secret),
        created_at=now,
        expires_at=now + lifetime if lifetime else None,
        session_id=session_id,
    )
    session.add(credential)
    await session.flush()
    return credential, secret


async def principal_for_secret(
    session: AsyncSession, secret: str, *, kind: CredentialKind
) -> Principal | None:
    """The active person a live credential belongs to, in one indexed query; else None."""
    row = (
        await session.execute(
            select(AuthUser.id, AuthUser.email, AuthUser.groups)
            .join(Credential, Credential.user_id == AuthUser.id)
            .where(
                Credential.secret_sha256 == digest(secret),
                Credential.kind == kind,
                Credential.revoked_at.is_(None),
                (Credential.expires_at.is_(None)) | (Credential.expires_at > func.now()),
                AuthUser.active,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    user_id, email, groups = row
    return Principal(user_id, email, tuple(groups), permissions_of(groups))


async def revoke_credential(
    session: AsyncSession, *, credential_id: int, user_id: int | None
) -> bool:
    """Revoke one live API token; `user_id` None: anyone's (an admin's revocation)."""
    owner = Credential.user_id == user_id if user_id is not None else true()
    result = await session.execute(
        update(Credential)
        .where(
            Credential.id == credential_id,
            Credential.kind == "api",
            owner,
            Credential.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
    )
    return bool(getattr(result, "rowcount", 0))


async def credential_id_of(session: AsyncSession, secret: str) -> int | None:
    found = await session.scalar(
        select(Credential.id).where(Credential.secret_sha256 == digest(secret))
    )
    return int(found) if found is not None else None


async def revoke_secret(session: AsyncSession, secret: str) -> None:
    """Revoke a credential and the tokens minted from it (a session's, at sign-out)."""
    credential_id = await credential_id_of(session, secret)
    if credential_id is None:
        return
    await session.execute(
        update(Credential)
        .where(
            (Credential.id == credential_id) | (Credential.session_id == credential_id),
            Credential.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
    )


async def revoke_all_of(session: AsyncSession, user_id: int) -> int:
    """End every session and token of a person; how many were live."""
    result = await session.execute(
        update(Credential)
        .where(Credential.user_id == user_id, Credential.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def api_tokens_of(session: AsyncSession, user_id: int) -> list[Credential]:
    rows = await session.execute(
        select(Credential)
        .where(Credential.user_id == user_id, Credential.kind == "api")
        .order_by(Credential.id)
    )
    return list(rows.scalars())
