"""Alembic environment of the licence gateway: its own schema and version table."""

from licence_gateway.store.base import SCHEMA
from licence_gateway.store.models import Base
from service_kit.migrations import run_env

run_env(Base.metadata, SCHEMA)
