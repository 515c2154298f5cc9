"""Declarative base for every licence gateway table, in schema licence_gateway."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from service_kit.db import schema_metadata

SCHEMA = "licence_gateway"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)
