"""payloads: licence_payloads, the licence objects ICMS posted, as received

Revision ID: lg0002
Revises: li0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "lg0002"
down_revision: str | None = "li0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "licence_gateway"


def upgrade() -> None:
    op.create_table(
        "licence_payloads",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("icms_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("action", sa.String(length=7), nullable=False),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("licence_type", sa.String(length=10), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("is_processed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("skip_process", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_payloads")),
        sa.UniqueConstraint("icms_id", "action", name=op.f("uq_licence_payloads_icms_id_action")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_licence_payloads_unprocessed",
        "licence_payloads",
        ["received_at", "id"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("is_processed IS false"),
    )


def downgrade() -> None:
    op.drop_index("ix_licence_payloads_unprocessed", table_name="licence_payloads", schema=SCHEMA)
    op.drop_table("licence_payloads", schema=SCHEMA)
