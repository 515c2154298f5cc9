"""Declarative base for every invoice checker table, in schema invoice_checker."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from service_kit.db import schema_metadata

SCHEMA = "invoice_checker"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)
