"""licence_payloads.data as json (the text ICMS's licence was stored as), not jsonb (issue 17)

Revision ID: lg0007
Revises: lg0006
Create Date: 2026-12-06

Nothing queries inside a stored licence: ingest stores it and the batching job reads it back
whole, as text. jsonb made PostgreSQL print every licence anew for each batch (most of the
claim's time); json keeps the text as stored and hands it over as it is. The rewrite of the
table takes an exclusive lock for as long as it runs.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "lg0007"
down_revision: str | None = "lg0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE licence_gateway.licence_payloads ALTER COLUMN data TYPE json USING data::json"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE licence_gateway.licence_payloads ALTER COLUMN data TYPE jsonb USING data::jsonb"
    )
