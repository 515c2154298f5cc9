"""invoices: an index on the month alone, which the invoice list's count reads

Revision ID: ic0007
Revises: ic0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ic0007"
down_revision: str | None = "ic0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_invoice_checker_invoices_date"),
        "invoices",
        ["date"],
        unique=False,
        schema="invoice_checker",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_invoice_checker_invoices_date"), table_name="invoices", schema="invoice_checker"
    )
