"""flex, Slack and AWS: work contracts, flex-time corrections, Slack channels, notification
batches and project announcements, AWS linked accounts (linked to projects and people) and
billing rows

Revision ID: ic0004
Revises: ic0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ic0004"
down_revision: str | None = "ic0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "amazon_linked_accounts",
        sa.Column("linked_account_id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("linked_account_id", name=op.f("pk_amazon_linked_accounts")),
        schema="invoice_checker",
    )
    op.create_table(
        "slack_channels",
        sa.Column("channel_id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "new_project_notification",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_slack_channels")),
        schema="invoice_checker",
    )
    op.create_table(
        "slack_notification_bundles",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("notification_type", sa.String(length=30), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("messages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_notification_bundles")),
        sa.UniqueConstraint(
            "notification_type",
            "period",
            name=op.f("uq_slack_notification_bundles_notification_type_period"),
        ),
        schema="invoice_checker",
    )
    op.create_table(
        "amazon_invoice_rows",
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("invoice_month", sa.Date(), nullable=False),
        sa.Column("linked_account_id", sa.String(length=50), nullable=False),
        sa.Column("record_type", sa.String(length=50), nullable=False),
        sa.Column("billing_period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billing_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usage_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usage_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("product_code", sa.String(length=255), nullable=False),
        sa.Column("usage_type", sa.String(length=255), nullable=False),
        sa.Column("item_description", sa.String(length=1000), nullable=False),
        sa.Column("usage_quantity", sa.Float(), nullable=True),
        sa.Column("total_cost", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_account_id"],
            ["invoice_checker.amazon_linked_accounts.linked_account_id"],
            name=op.f("fk_amazon_invoice_rows_linked_account_id_amazon_linked_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_amazon_invoice_rows")),
        schema="invoice_checker",
    )
    op.create_index(
        "ix_amazon_invoice_rows_month",
        "amazon_invoice_rows",
        ["invoice_month", "linked_account_id"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "flex_time_corrections",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_guid", sa.UUID(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("adjust_by", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("set_to", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(adjust_by IS NULL) <> (set_to IS NULL)",
            name=op.f("ck_flex_time_corrections_one_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["user_guid"],
            ["invoice_checker.tenkfeet_users.guid"],
            name=op.f("fk_flex_time_corrections_user_guid_tenkfeet_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flex_time_corrections")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_flex_time_corrections_user_guid"),
        "flex_time_corrections",
        ["user_guid"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "user_amazon_accounts",
        sa.Column("user_guid", sa.UUID(), nullable=False),
        sa.Column("linked_account_id", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_account_id"],
            ["invoice_checker.amazon_linked_accounts.linked_account_id"],
            name=op.f("fk_user_amazon_accounts_linked_account_id_amazon_linked_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_guid"],
            ["invoice_checker.tenkfeet_users.guid"],
            name=op.f("fk_user_amazon_accounts_user_guid_tenkfeet_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_guid", "linked_account_id", name=op.f("pk_user_amazon_accounts")
        ),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_user_amazon_accounts_linked_account_id"),
        "user_amazon_accounts",
        ["linked_account_id"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "work_contracts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_guid", sa.UUID(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("flex_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("worktime_percent", sa.Integer(), server_default=sa.text("100"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_work_contracts_period")),
        sa.CheckConstraint(
            "worktime_percent BETWEEN 1 AND 100", name=op.f("ck_work_contracts_worktime_percent")
        ),
        sa.ForeignKeyConstraint(
            ["user_guid"],
            ["invoice_checker.tenkfeet_users.guid"],
            name=op.f("fk_work_contracts_user_guid_tenkfeet_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_contracts")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_work_contracts_user_guid"),
        "work_contracts",
        ["user_guid"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "slack_project_announcements",
        sa.Column("project_guid", sa.UUID(), nullable=False),
        sa.Column(
            "announced_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_guid"],
            ["invoice_checker.projects.guid"],
            name=op.f("fk_slack_project_announcements_project_guid_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_guid", name=op.f("pk_slack_project_announcements")),
        schema="invoice_checker",
    )
    op.create_table(
        "project_amazon_accounts",
        sa.Column("project_guid", sa.UUID(), nullable=False),
        sa.Column("linked_account_id", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_account_id"],
            ["invoice_checker.amazon_linked_accounts.linked_account_id"],
            name=op.f("fk_project_amazon_accounts_linked_account_id_amazon_linked_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_guid"],
            ["invoice_checker.projects.guid"],
            name=op.f("fk_project_amazon_accounts_project_guid_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_guid", "linked_account_id", name=op.f("pk_project_amazon_accounts")
        ),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_project_amazon_accounts_linked_account_id"),
        "project_amazon_accounts",
        ["linked_account_id"],
        unique=False,
        schema="invoice_checker",
    )


def downgrade() -> None:
    op.drop_table("slack_project_announcements", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_project_amazon_accounts_linked_account_id"),
        table_name="project_amazon_accounts",
        schema="invoice_checker",
    )
    op.drop_table("project_amazon_accounts", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_work_contracts_user_guid"),
        table_name="work_contracts",
        schema="invoice_checker",
    )
    op.drop_table("work_contracts", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_user_amazon_accounts_linked_account_id"),
        table_name="user_amazon_accounts",
        schema="invoice_checker",
    )
    op.drop_table("user_amazon_accounts", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_flex_time_corrections_user_guid"),
        table_name="flex_time_corrections",
        schema="invoice_checker",
    )
    op.drop_table("flex_time_corrections", schema="invoice_checker")
    op.drop_index(
        "ix_amazon_invoice_rows_month", table_name="amazon_invoice_rows", schema="invoice_checker"
    )
    op.drop_table("amazon_invoice_rows", schema="invoice_checker")
    op.drop_table("slack_notification_bundles", schema="invoice_checker")
    op.drop_table("slack_channels", schema="invoice_checker")
    op.drop_table("amazon_linked_accounts", schema="invoice_checker")
