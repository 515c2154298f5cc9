"""Alembic environment of the invoice checker: its own schema and version table."""

from invoice_checker.store.base import SCHEMA
from invoice_checker.store.models import Base
from service_kit.migrations import run_env

run_env(Base.metadata, SCHEMA)
