"""ORM models: invoice checker. Importing this module registers every table on Base.metadata."""

from __future__ import annotations

from invoice_checker.store.base import Base

__all__ = ["Base"]
