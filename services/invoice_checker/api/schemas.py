"""Response schemas more than one router answers with."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class ProjectRef(BaseModel):
    guid: uuid.UUID
    upstream_id: int | None = Field(description="10000ft project id; null for leave")
    name: str
    client: str


class FixedRowOut(BaseModel):
    """A fixed row as an invoice bills it."""

    description: str
    price: float
    currency: str


class StoredFixedRowOut(FixedRowOut):
    """A fixed row as stored on a project or an invoice, with the id to edit it by."""

    id: int
    frozen: bool = Field(default=False, description="A copy of a project row made at invoicing")
