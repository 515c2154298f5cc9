"""baseline: the invoice_checker schema (created by env.py) with its own version table

Revision ID: in0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

revision: str = "in0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
