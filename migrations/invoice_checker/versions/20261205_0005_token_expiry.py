"""access: API tokens remember the browser session they were minted from, and every API token
expires (the ones that never did get 90 days from now)

Revision ID: ic0005
Revises: ic0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ic0005"
down_revision: str | None = "ic0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "auth_credentials",
        sa.Column("session_id", sa.BigInteger(), nullable=True),
        schema="invoice_checker",
    )
    op.create_foreign_key(
        op.f("fk_auth_credentials_session_id_auth_credentials"),
        "auth_credentials",
        "auth_credentials",
        ["session_id"],
        ["id"],
        source_schema="invoice_checker",
        referent_schema="invoice_checker",
        ondelete="SET NULL",
    )
    op.create_index(
        op.f("ix_invoice_checker_auth_credentials_session_id"),
        "auth_credentials",
        ["session_id"],
        unique=False,
        schema="invoice_checker",
    )
    op.execute(
        "UPDATE invoice_checker.auth_credentials SET expires_at = now() + interval '90 days' "
        "WHERE kind = 'api' AND expires_at IS NULL"
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_invoice_checker_auth_credentials_session_id"),
        table_name="auth_credentials",
        schema="invoice_checker",
    )
    op.drop_constraint(
        op.f("fk_auth_credentials_session_id_auth_credentials"),
        "auth_credentials",
        schema="invoice_checker",
        type_="foreignkey",
    )
    op.drop_column("auth_credentials", "session_id", schema="invoice_checker")
