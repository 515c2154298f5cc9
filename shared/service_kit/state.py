"""What an app's lifespan owns (settings, engine, sessionmakers, Redis), typed, and the
dependencies that read it, so routes never reach into `request.app.state` themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from arq.connections import ArqRedis
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service_kit.db import KeptConnections
from service_kit.kept_redis import KeptRedis
from service_kit.settings import ServiceSettings

ReadinessCheck = Callable[[], Awaitable[None]]
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass(frozen=True)
class LifespanState:
    """Built when the app starts and dropped when it stops."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]
    redis: ArqRedis
    readiness_checks: dict[str, ReadinessCheck]
    kept_connections: KeptConnections  # the direct routes', see `request_session.route_connection`
    kept_redis: KeptRedis  # for the commands a request sends every time (Hawk nonces, sign-ins)


def set_lifespan_state(app: FastAPI, state: LifespanState) -> None:
    app.state.lifespan = state


def app_lifespan_state(app: FastAPI) -> LifespanState:
    state = getattr(app.state, "lifespan", None)
    if not isinstance(state, LifespanState):
        raise RuntimeError("the app's lifespan has not started")
    return state


def lifespan_state(request: Request) -> LifespanState:
    return app_lifespan_state(request.app)


def get_redis(request: Request) -> ArqRedis:
    return lifespan_state(request).redis


RedisDep = Annotated[ArqRedis, Depends(get_redis)]


def settings_reader(kind: type[SettingsT]) -> Callable[[Request], SettingsT]:
    """A dependency answering the app's settings as the service's own settings class."""

    def read_settings(request: Request) -> SettingsT:
        settings = lifespan_state(request).settings
        if not isinstance(settings, kind):
            raise TypeError(f"the app runs with {type(settings).__name__}, not {kind.__name__}")
        return settings

    return read_settings


def settings_dependency(
    read: Callable[[Request], SettingsT],
) -> Callable[[Request], Awaitable[SettingsT]]:
    """`read` for `Depends`: FastAPI runs a plain `def` dependency in a worker thread, a hop that
    costs far more CPU than reading the settings."""

    async def settings(request: Request) -> SettingsT:
        return read(request)

    return settings
