"""core: clients, 10000ft users, projects and phases, leave types, holidays, hour entries,
invoices with their stats, sync runs, events and the generic history table

Revision ID: ic0002
Revises: in0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ic0002"
down_revision: str | None = "in0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_clients_name")),
        schema="invoice_checker",
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "timestamp", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        schema="invoice_checker",
    )
    op.create_index(
        "ix_events_timestamp", "events", ["timestamp"], unique=False, schema="invoice_checker"
    )
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=100), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
        schema="invoice_checker",
    )
    op.create_index(
        "ix_history_entity",
        "history",
        ["entity_type", "entity_id", "recorded_at"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "hour_entry_checksums",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_hour_entry_checksums")),
        schema="invoice_checker",
    )
    op.create_table(
        "leave_types",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("guid", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leave_types")),
        schema="invoice_checker",
    )
    op.create_table(
        "public_holidays",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("upstream_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_public_holidays")),
        schema="invoice_checker",
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("force", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'queued'"), nullable=False
        ),
        sa.Column(
            "requested_by",
            sa.String(length=255),
            server_default=sa.text("'system'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("days_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("days_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("added", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("deleted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unchanged_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped_entries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('users', 'projects', 'leave-types', 'holidays', 'hours')",
            name=op.f("ck_sync_runs_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_sync_runs_status"),
        ),
        sa.CheckConstraint(
            "start_date IS NULL OR end_date >= start_date", name=op.f("ck_sync_runs_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
        schema="invoice_checker",
    )
    op.create_index(
        "ix_sync_runs_queued",
        "sync_runs",
        ["created_at"],
        unique=False,
        schema="invoice_checker",
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_table(
        "tenkfeet_users",
        sa.Column("guid", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=100), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("billable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("termination_date", sa.Date(), nullable=True),
        sa.Column("mobile_phone", sa.String(length=100), nullable=True),
        sa.Column(
            "invitation_pending", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("billability_target", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("thumbnail", sa.String(length=1000), nullable=True),
        sa.Column("slack_id", sa.String(length=50), nullable=True),
        sa.Column("role", sa.String(length=1000), nullable=True),
        sa.Column("discipline", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("guid", name=op.f("pk_tenkfeet_users")),
        sa.UniqueConstraint("email", name=op.f("uq_tenkfeet_users_email")),
        sa.UniqueConstraint("user_id", name=op.f("uq_tenkfeet_users_user_id")),
        schema="invoice_checker",
    )
    op.create_table(
        "projects",
        sa.Column("guid", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("is_leave", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("project_state", sa.String(length=100), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("phase_name", sa.String(length=1000), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.Date(), nullable=True),
        sa.Column("ends_at", sa.Date(), nullable=True),
        sa.Column("thumbnail_url", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["invoice_checker.clients.id"],
            name=op.f("fk_projects_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("guid", name=op.f("pk_projects")),
        sa.UniqueConstraint("project_id", name=op.f("uq_projects_project_id")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_projects_client_id"),
        "projects",
        ["client_id"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_index(
        "uq_projects_is_leave",
        "projects",
        ["is_leave"],
        unique=True,
        schema="invoice_checker",
        postgresql_where=sa.text("is_leave"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("project_guid", sa.UUID(), nullable=False),
        sa.Column(
            "invoice_state", sa.String(length=1), server_default=sa.text("'C'"), nullable=False
        ),
        sa.Column("is_approved", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("has_comments", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "incorrect_entries_count", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "billable_incorrect_price_count",
            sa.Integer(),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "non_billable_hours_count", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "non_phase_specific_count", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "not_approved_hours_count", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("no_category_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "empty_descriptions_count", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("total_entries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("bill_rate_avg", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("incurred_hours", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "incurred_billable_hours", sa.Float(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("billable_percentage", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("incurred_money", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("stats_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("invoice_state IN ('C', 'A', 'P', 'S')", name=op.f("ck_invoices_state")),
        sa.CheckConstraint("extract(day from date) = 1", name=op.f("ck_invoices_first_of_month")),
        sa.ForeignKeyConstraint(
            ["project_guid"],
            ["invoice_checker.projects.guid"],
            name=op.f("fk_invoices_project_guid_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("date", "project_guid", name=op.f("uq_invoices_date_project_guid")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_invoices_project_guid"),
        "invoices",
        ["project_guid"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "phases",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("guid", sa.UUID(), nullable=True),
        sa.Column("project_guid", sa.UUID(), nullable=False),
        sa.Column("phase_name", sa.String(length=1000), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("starts_at", sa.Date(), nullable=True),
        sa.Column("ends_at", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_guid"],
            ["invoice_checker.projects.guid"],
            name=op.f("fk_phases_project_guid_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phases")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_phases_project_guid"),
        "phases",
        ["project_guid"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "project_admins",
        sa.Column("project_guid", sa.UUID(), nullable=False),
        sa.Column("user_guid", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_guid"],
            ["invoice_checker.projects.guid"],
            name=op.f("fk_project_admins_project_guid_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_guid"],
            ["invoice_checker.tenkfeet_users.guid"],
            name=op.f("fk_project_admins_user_guid_tenkfeet_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_guid", "user_guid", name=op.f("pk_project_admins")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_project_admins_user_guid"),
        "project_admins",
        ["user_guid"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_table(
        "hour_entries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("upstream_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("last_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_guid", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_email", sa.String(length=255), nullable=True),
        sa.Column("user_name", sa.String(length=100), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("incurred_hours", sa.Float(), nullable=False),
        sa.Column("incurred_money", sa.Float(), nullable=False),
        sa.Column("bill_rate", sa.Float(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("notes", sa.String(length=1000), nullable=True),
        sa.Column("entry_type", sa.String(length=100), nullable=False),
        sa.Column("discipline", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("leave_type", sa.String(length=100), nullable=False),
        sa.Column("phase_name", sa.String(length=100), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("assignable_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.Date(), nullable=True),
        sa.Column("approved_by", sa.String(length=255), nullable=True),
        sa.Column("submitted_by", sa.String(length=255), nullable=True),
        sa.Column("upstream_approvable_id", sa.BigInteger(), nullable=True),
        sa.Column("upstream_approvable_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "calculated_is_billable", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "calculated_has_notes", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column(
            "calculated_has_phase", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column(
            "calculated_is_approved", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column(
            "calculated_has_proper_price",
            sa.Boolean(),
            server_default=sa.text("true"),
            nullable=False,
        ),
        sa.Column(
            "calculated_has_category", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column(
            "calculated_is_overtime", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice_checker.invoices.id"],
            name=op.f("fk_hour_entries_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_guid"],
            ["invoice_checker.tenkfeet_users.guid"],
            name=op.f("fk_hour_entries_user_guid_tenkfeet_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hour_entries")),
        sa.UniqueConstraint("upstream_id", name=op.f("uq_hour_entries_upstream_id")),
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_hour_entries_date"),
        "hour_entries",
        ["date"],
        unique=False,
        schema="invoice_checker",
    )
    op.create_index(
        op.f("ix_invoice_checker_hour_entries_invoice_id"),
        "hour_entries",
        ["invoice_id"],
        unique=False,
        schema="invoice_checker",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_invoice_checker_hour_entries_invoice_id"),
        table_name="hour_entries",
        schema="invoice_checker",
    )
    op.drop_index(
        op.f("ix_invoice_checker_hour_entries_date"),
        table_name="hour_entries",
        schema="invoice_checker",
    )
    op.drop_table("hour_entries", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_project_admins_user_guid"),
        table_name="project_admins",
        schema="invoice_checker",
    )
    op.drop_table("project_admins", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_phases_project_guid"),
        table_name="phases",
        schema="invoice_checker",
    )
    op.drop_table("phases", schema="invoice_checker")
    op.drop_index(
        op.f("ix_invoice_checker_invoices_project_guid"),
        table_name="invoices",
        schema="invoice_checker",
    )
    op.drop_table("invoices", schema="invoice_checker")
    op.drop_index(
        "uq_projects_is_leave",
        table_name="projects",
        schema="invoice_checker",
        postgresql_where=sa.text("is_leave"),
    )
    op.drop_index(
        op.f("ix_invoice_checker_projects_client_id"),
        table_name="projects",
        schema="invoice_checker",
    )
    op.drop_table("projects", schema="invoice_checker")
    op.drop_table("tenkfeet_users", schema="invoice_checker")
    op.drop_index(
        "ix_sync_runs_queued",
        table_name="sync_runs",
        schema="invoice_checker",
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.drop_table("sync_runs", schema="invoice_checker")
    op.drop_table("public_holidays", schema="invoice_checker")
    op.drop_table("leave_types", schema="invoice_checker")
    op.drop_table("hour_entry_checksums", schema="invoice_checker")
    op.drop_index("ix_history_entity", table_name="history", schema="invoice_checker")
    op.drop_table("history", schema="invoice_checker")
    op.drop_index("ix_events_timestamp", table_name="events", schema="invoice_checker")
    op.drop_table("events", schema="invoice_checker")
    op.drop_table("clients", schema="invoice_checker")
