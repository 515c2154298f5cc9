"""waiting_payloads: the batching job's queue as a table of its own (issue 17)

Revision ID: lg0006
Revises: lg0005
Create Date: 2026-12-06

A batch used to mark each of its payloads `is_processed`: 10,000 rewritten rows, licence and
all, each in three indexes. Now a payload waits as a row in `waiting_payloads`, added by a
trigger whatever inserts the payload, and a batch deletes those rows. `is_processed` is gone;
the model reads it as "not in the queue".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lg0006"
down_revision: str | None = "lg0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "licence_gateway"

ENQUEUE = [
    """CREATE FUNCTION licence_gateway.enqueue_new_payloads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO licence_gateway.waiting_payloads (payload_id, received_at)
        SELECT id, received_at FROM new_rows;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER enqueue_new_payloads AFTER INSERT ON licence_gateway.licence_payloads
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION licence_gateway.enqueue_new_payloads()""",
]


def upgrade() -> None:
    op.create_table(
        "waiting_payloads",
        sa.Column("payload_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payload_id"],
            ["licence_gateway.licence_payloads.id"],
            name=op.f("fk_waiting_payloads_payload_id_licence_payloads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("payload_id", name=op.f("pk_waiting_payloads")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_waiting_payloads_arrival",
        "waiting_payloads",
        ["received_at", "payload_id"],
        schema=SCHEMA,
    )
    op.execute(
        "INSERT INTO licence_gateway.waiting_payloads (payload_id, received_at)"
        " SELECT id, received_at FROM licence_gateway.licence_payloads WHERE is_processed IS false"
    )
    for statement in ENQUEUE:
        op.execute(statement)
    op.drop_index("ix_licence_payloads_unprocessed", "licence_payloads", schema=SCHEMA)
    op.drop_column("licence_payloads", "is_processed", schema=SCHEMA)


def downgrade() -> None:
    op.add_column(
        "licence_payloads",
        sa.Column("is_processed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema=SCHEMA,
    )
    op.execute(
        "UPDATE licence_gateway.licence_payloads p SET is_processed = true"
        " WHERE NOT EXISTS (SELECT FROM licence_gateway.waiting_payloads q WHERE q.payload_id = p.id)"
    )
    op.create_index(
        "ix_licence_payloads_unprocessed",
        "licence_payloads",
        ["received_at", "id"],
        schema=SCHEMA,
        postgresql_where=sa.text("is_processed IS false"),
    )
    op.execute("DROP TRIGGER enqueue_new_payloads ON licence_gateway.licence_payloads")
    op.execute("DROP FUNCTION licence_gateway.enqueue_new_payloads()")
    op.drop_table("waiting_payloads", schema=SCHEMA)
