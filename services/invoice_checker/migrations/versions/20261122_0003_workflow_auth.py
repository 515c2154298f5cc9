"""workflow and auth: checklist comments, fixed rows, tags, per-currency invoice totals,
sign-in users and their hashed credentials

Revision ID: ic0003
Revises: ic0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ic0003"
down_revision: str | None = "ic0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_users",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column(
            "groups",
            postgresql.ARRAY(sa.String(length=50)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_users")),
        sa.UniqueConstraint("email", name=op.f("uq_auth_users_email")),
        schema="invoice_checker",
    )
    op.create_table(
        "auth_credentials",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["invoice_checker.auth_users.id"],
            name=op.f("fk_auth_credentials_user_id_auth_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_credentials")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_auth_credentials_secret_sha256")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_auth_credentials_user_id"),
        "auth_credentials",
        ["user_id"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "project_fixed_rows",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("project_guid", sa.UUID(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'EUR'"), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_guid"],
            ["invoice_checker.projects.guid"],
            name=op.f("fk_project_fixed_rows_project_guid_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_fixed_rows")),
        sa.UniqueConstraint(
            "project_guid",
            "description",
            name=op.f("uq_project_fixed_rows_project_guid_description"),
        ),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_project_fixed_rows_project_guid"),
        "project_fixed_rows",
        ["project_guid"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "invoice_comments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("user", sa.String(length=255), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("checked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "checked_non_billable_ok", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "checked_bill_rates_ok", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "checked_phases_ok", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "checked_no_category_ok", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "checked_changes_last_month",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
        sa.Column("invoice_number", sa.String(length=100), nullable=True),
        sa.Column(
            "invoice_sent_to_customer",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice_checker.invoices.id"],
            name=op.f("fk_invoice_comments_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_comments")),
        schema="invoice_checker",
    )
    op.create_index(
        "ix_invoice_comments_invoice_newest",
        "invoice_comments",
        ["invoice_id", "id"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "invoice_currency_totals",
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice_checker.invoices.id"],
            name=op.f("fk_invoice_currency_totals_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", "currency", name=op.f("pk_invoice_currency_totals")),
        schema="invoice_checker",
    )
    op.create_table(
        "invoice_fixed_rows",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'EUR'"), nullable=False),
        sa.Column("frozen", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice_checker.invoices.id"],
            name=op.f("fk_invoice_fixed_rows_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_fixed_rows")),
        sa.UniqueConstraint(
            "invoice_id", "description", name=op.f("uq_invoice_fixed_rows_invoice_id_description")
        ),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_invoice_fixed_rows_invoice_id"),
        "invoice_fixed_rows",
        ["invoice_id"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "invoice_tags",
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice_checker.invoices.id"],
            name=op.f("fk_invoice_tags_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", "tag", name=op.f("pk_invoice_tags")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_invoice_tags_tag"),
        "invoice_tags",
        ["tag"],
        unique=False,
        schema="invoice_checker",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_invoice_checker_invoice_tags_tag"),
        table_name="invoice_tags",
        schema="invoice_checker",
    )
    op.drop_table("invoice_tags", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_invoice_fixed_rows_invoice_id"),
        table_name="invoice_fixed_rows",
        schema="invoice_checker",
    )
    op.drop_table("invoice_fixed_rows", schema="invoice_checker")
    op.drop_table("invoice_currency_totals", schema="invoice_checker")
    op.drop_index(
        "ix_invoice_comments_invoice_newest",
        table_name="invoice_comments",
        schema="invoice_checker",
    )
    op.drop_table("invoice_comments", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_project_fixed_rows_project_guid"),
        table_name="project_fixed_rows",
        schema="invoice_checker",
    )
    op.drop_table("project_fixed_rows", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_auth_credentials_user_id"),
        table_name="auth_credentials",
        schema="invoice_checker",
    )
    op.drop_table("auth_credentials", schema="invoice_checker")
    op.drop_table("auth_users", schema="invoice_checker")
