"""Slack outbox: one row per notice message, committed with its batch's claim; forced batches

Revision ID: ic0006
Revises: ic0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ic0006"
down_revision: str | None = "ic0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "invoice_checker"


def upgrade() -> None:
    op.add_column(
        "slack_notification_bundles",
        sa.Column("forced", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema=SCHEMA,
    )
    op.drop_constraint(
        "uq_slack_notification_bundles_notification_type_period",
        "slack_notification_bundles",
        type_="unique",
        schema=SCHEMA,
    )
    op.create_index(
        "uq_slack_notification_bundles_once",
        "slack_notification_bundles",
        ["notification_type", "period"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("NOT forced"),
    )
    op.create_table(
        "slack_outbox_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("bundle_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("open_with", sa.String(length=500), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "attachments",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slack_ts", sa.String(length=40), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            [f"{SCHEMA}.slack_notification_bundles.id"],
            name=op.f("fk_slack_outbox_messages_bundle_id_slack_notification_bundles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_outbox_messages")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_slack_outbox_messages_unsent",
        "slack_outbox_messages",
        ["bundle_id", "position"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_slack_outbox_messages_unsent", "slack_outbox_messages", schema=SCHEMA)
    op.drop_table("slack_outbox_messages", schema=SCHEMA)
    op.drop_index("uq_slack_notification_bundles_once", "slack_notification_bundles", schema=SCHEMA)
    op.execute(f"DELETE FROM {SCHEMA}.slack_notification_bundles WHERE forced")
    op.create_unique_constraint(
        "uq_slack_notification_bundles_notification_type_period",
        "slack_notification_bundles",
        ["notification_type", "period"],
        schema=SCHEMA,
    )
    op.drop_column("slack_notification_bundles", "forced", schema=SCHEMA)
