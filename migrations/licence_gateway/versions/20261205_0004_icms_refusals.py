"""icms callbacks: which licences ICMS took and which it refused (parked), issue 18.3

Revision ID: lg0004
Revises: lg0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "lg0004"
down_revision: str | None = "lg0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "licence_gateway"


def upgrade() -> None:
    for name in ("delivered_ids", "refused_ids"):
        op.add_column(
            "icms_callbacks",
            sa.Column(
                name,
                postgresql.JSONB(astext_type=sa.Text()),
                server_default=sa.text("'{}'::jsonb"),
                nullable=False,
            ),
            schema=SCHEMA,
        )


def downgrade() -> None:
    for name in ("refused_ids", "delivered_ids"):
        op.drop_column("icms_callbacks", name, schema=SCHEMA)
