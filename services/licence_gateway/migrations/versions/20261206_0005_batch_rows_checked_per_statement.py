"""batch rows: references checked once per statement, not by two row-level foreign keys (issue 17)

Revision ID: lg0005
Revises: lg0004
Create Date: 2026-12-06

A batch writes one row per licence. Its two foreign keys ran two row-level triggers for each
(two thirds of the 10,000-row insert). These triggers keep the same promises set-based, once per
statement: a batch row names an existing batch and payload, its references never change, and a
batch or payload that batch rows name is never deleted.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "lg0005"
down_revision: str | None = "lg0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "licence_gateway"
FOREIGN_KEYS = {
    "fk_licence_data_batch_payloads_batch_id_licence_data_batches": (
        "batch_id",
        "licence_data_batches",
    ),
    "fk_licence_data_batch_payloads_payload_id_licence_payloads": (
        "payload_id",
        "licence_payloads",
    ),
}

UPGRADE = [
    """CREATE FUNCTION licence_gateway.batch_rows_name_existing_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT FROM new_rows n
        WHERE NOT EXISTS (SELECT FROM licence_gateway.licence_payloads p WHERE p.id = n.payload_id)
           OR NOT EXISTS (SELECT FROM licence_gateway.licence_data_batches b WHERE b.id = n.batch_id)
    ) THEN
        RAISE EXCEPTION 'a batch row names a batch or payload that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER batch_rows_name_existing_rows AFTER INSERT ON licence_gateway.licence_data_batch_payloads
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION licence_gateway.batch_rows_name_existing_rows()""",
    """CREATE FUNCTION licence_gateway.batch_row_references_never_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.batch_id <> OLD.batch_id OR NEW.payload_id <> OLD.payload_id THEN
        RAISE EXCEPTION 'a batch row''s batch and payload never change'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$""",
    """CREATE TRIGGER batch_row_references_never_change BEFORE UPDATE OF batch_id, payload_id
    ON licence_gateway.licence_data_batch_payloads FOR EACH ROW EXECUTE FUNCTION licence_gateway.batch_row_references_never_change()""",
    """CREATE FUNCTION licence_gateway.batched_rows_are_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'licence_payloads' AND EXISTS (
        SELECT FROM old_rows o JOIN licence_gateway.licence_data_batch_payloads r ON r.payload_id = o.id
    ) OR TG_TABLE_NAME = 'licence_data_batches' AND EXISTS (
        SELECT FROM old_rows o JOIN licence_gateway.licence_data_batch_payloads r ON r.batch_id = o.id
    ) THEN
        RAISE EXCEPTION '% rows that batch rows name cannot be deleted', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER batched_payloads_are_kept AFTER DELETE ON licence_gateway.licence_payloads
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION licence_gateway.batched_rows_are_kept()""",
    """CREATE TRIGGER batches_with_rows_are_kept AFTER DELETE ON licence_gateway.licence_data_batches
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION licence_gateway.batched_rows_are_kept()""",
]

DOWNGRADE = [
    "DROP TRIGGER batches_with_rows_are_kept ON licence_gateway.licence_data_batches",
    "DROP TRIGGER batched_payloads_are_kept ON licence_gateway.licence_payloads",
    "DROP FUNCTION licence_gateway.batched_rows_are_kept()",
    "DROP TRIGGER batch_row_references_never_change ON licence_gateway.licence_data_batch_payloads",
    "DROP FUNCTION licence_gateway.batch_row_references_never_change()",
    "DROP TRIGGER batch_rows_name_existing_rows ON licence_gateway.licence_data_batch_payloads",
    "DROP FUNCTION licence_gateway.batch_rows_name_existing_rows()",
]


def upgrade() -> None:
    for name in FOREIGN_KEYS:
        op.drop_constraint(name, "licence_data_batch_payloads", schema=SCHEMA, type_="foreignkey")
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
    for name, (column, table) in FOREIGN_KEYS.items():
        op.create_foreign_key(
            name,
            "licence_data_batch_payloads",
            table,
            [column],
            ["id"],
            source_schema=SCHEMA,
            referent_schema=SCHEMA,
        )
