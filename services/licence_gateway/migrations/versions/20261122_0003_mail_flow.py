"""mail flow: mails and their events, licence-data batches and their payloads, received
e-mails, ICMS callbacks

Revision ID: lg0003
Revises: lg0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "lg0003"
down_revision: str | None = "lg0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mails",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("extract_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("message_bytes", sa.LargeBinary(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_filename", sa.Text(), nullable=True),
        sa.Column("response_data", sa.Text(), nullable=True),
        sa.Column("response_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_subject", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mails")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mails_message_id")),
        schema="licence_gateway",
    )
    op.create_index(
        "ix_mails_extract_type_status",
        "mails",
        ["extract_type", "status"],
        unique=False,
        schema="licence_gateway",
    )
    op.create_table(
        "icms_callbacks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("mail_id", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("next_status", sa.String(length=30), nullable=False),
        sa.Column("delivered", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["licence_gateway.mails.id"], name=op.f("fk_icms_callbacks_mail_id_mails")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_icms_callbacks")),
        sa.UniqueConstraint("mail_id", name=op.f("uq_icms_callbacks_mail_id")),
        schema="licence_gateway",
    )
    op.create_table(
        "licence_data_batches",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), server_default=sa.text("'ICMS'"), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_text", sa.Text(), nullable=False),
        sa.Column("mail_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["mail_id"],
            ["licence_gateway.mails.id"],
            name=op.f("fk_licence_data_batches_mail_id_mails"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_data_batches")),
        sa.UniqueConstraint("mail_id", name=op.f("uq_licence_data_batches_mail_id")),
        sa.UniqueConstraint("run_number", name=op.f("uq_licence_data_batches_run_number")),
        schema="licence_gateway",
    )
    op.create_table(
        "mail_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("mail_id", sa.BigInteger(), nullable=False),
        sa.Column("from_status", sa.String(length=30), nullable=True),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["licence_gateway.mails.id"], name=op.f("fk_mail_events_mail_id_mails")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_events")),
        schema="licence_gateway",
    )
    op.create_index(
        op.f("ix_licence_gateway_mail_events_mail_id"),
        "mail_events",
        ["mail_id"],
        unique=False,
        schema="licence_gateway",
    )
    op.create_table(
        "received_emails",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("uidl", sa.Text(), nullable=True),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("attachment_name", sa.Text(), nullable=True),
        sa.Column("attachment_text", sa.Text(), nullable=True),
        sa.Column("flag", sa.String(length=40), nullable=True),
        sa.Column("flag_detail", sa.Text(), nullable=True),
        sa.Column("mail_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["licence_gateway.mails.id"], name=op.f("fk_received_emails_mail_id_mails")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_emails")),
        sa.UniqueConstraint("message_id", name=op.f("uq_received_emails_message_id")),
        schema="licence_gateway",
    )
    op.create_index(
        op.f("ix_licence_gateway_received_emails_mail_id"),
        "received_emails",
        ["mail_id"],
        unique=False,
        schema="licence_gateway",
    )
    op.create_index(
        op.f("ix_licence_gateway_received_emails_uidl"),
        "received_emails",
        ["uidl"],
        unique=False,
        schema="licence_gateway",
    )
    op.create_table(
        "licence_data_batch_payloads",
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("payload_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["licence_gateway.licence_data_batches.id"],
            name=op.f("fk_licence_data_batch_payloads_batch_id_licence_data_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["payload_id"],
            ["licence_gateway.licence_payloads.id"],
            name=op.f("fk_licence_data_batch_payloads_payload_id_licence_payloads"),
        ),
        sa.PrimaryKeyConstraint(
            "batch_id", "payload_id", name=op.f("pk_licence_data_batch_payloads")
        ),
        schema="licence_gateway",
    )
    op.create_index(
        op.f("ix_licence_gateway_licence_data_batch_payloads_payload_id"),
        "licence_data_batch_payloads",
        ["payload_id"],
        unique=False,
        schema="licence_gateway",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_licence_gateway_licence_data_batch_payloads_payload_id"),
        table_name="licence_data_batch_payloads",
        schema="licence_gateway",
    )
    op.drop_table("licence_data_batch_payloads", schema="licence_gateway")
    op.drop_index(
        op.f("ix_licence_gateway_received_emails_uidl"),
        table_name="received_emails",
        schema="licence_gateway",
    )
    op.drop_index(
        op.f("ix_licence_gateway_received_emails_mail_id"),
        table_name="received_emails",
        schema="licence_gateway",
    )
    op.drop_table("received_emails", schema="licence_gateway")
    op.drop_index(
        op.f("ix_licence_gateway_mail_events_mail_id"),
        table_name="mail_events",
        schema="licence_gateway",
    )
    op.drop_table("mail_events", schema="licence_gateway")
    op.drop_table("licence_data_batches", schema="licence_gateway")
    op.drop_table("icms_callbacks", schema="licence_gateway")
    op.drop_index("ix_mails_extract_type_status", table_name="mails", schema="licence_gateway")
    op.drop_table("mails", schema="licence_gateway")
