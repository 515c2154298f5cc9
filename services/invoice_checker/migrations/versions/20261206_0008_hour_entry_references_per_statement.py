"""hour entries: references checked once per statement, not by two row-level foreign keys

Revision ID: ic0008
Revises: ic0007
Create Date: 2026-12-06

A full hour sync COPYs about a million entries. Their two foreign keys (the invoice, the 10000ft
user) ran a key-check query per row each, which cost the COPY nearly as much as the rows
themselves. These triggers keep the same promises, once per statement:
- an entry names an existing invoice, and an existing user or none; the rows named are locked
  as a key check locks them (FOR KEY SHARE), so a concurrent delete waits for the writer;
- deleting (or truncating) invoices deletes their entries (the key's ON DELETE CASCADE);
- deleting (or truncating) users leaves their entries without a user (ON DELETE SET NULL);
- the id of an invoice or user that entries name never changes (the keys' NO ACTION).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ic0008"
down_revision: str | None = "ic0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "invoice_checker"
FOREIGN_KEYS = {
    "fk_hour_entries_invoice_id_invoices": ("invoice_id", "invoices", "id", "CASCADE"),
    "fk_hour_entries_user_guid_tenkfeet_users": (
        "user_guid",
        "tenkfeet_users",
        "guid",
        "SET NULL",
    ),
}

UPGRADE = [
    """CREATE FUNCTION invoice_checker.hour_entries_name_existing_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT DISTINCT invoice_id FROM new_rows) named) <> (
        SELECT count(*) FROM (
            SELECT FROM invoice_checker.invoices i
            WHERE i.id IN (SELECT invoice_id FROM new_rows)
            FOR KEY SHARE OF i
        ) locked
    ) THEN
        RAISE EXCEPTION 'an hour entry names an invoice that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF (
        SELECT count(*) FROM (
            SELECT DISTINCT user_guid FROM new_rows WHERE user_guid IS NOT NULL
        ) named
    ) <> (
        SELECT count(*) FROM (
            SELECT FROM invoice_checker.tenkfeet_users u
            WHERE u.guid IN (SELECT user_guid FROM new_rows)
            FOR KEY SHARE OF u
        ) locked
    ) THEN
        RAISE EXCEPTION 'an hour entry names a 10000ft user that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER inserted_hour_entries_name_existing_rows
    AFTER INSERT ON invoice_checker.hour_entries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_checker.hour_entries_name_existing_rows()""",
    """CREATE TRIGGER updated_hour_entries_name_existing_rows
    AFTER UPDATE ON invoice_checker.hour_entries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_checker.hour_entries_name_existing_rows()""",
    """CREATE FUNCTION invoice_checker.hour_entries_follow_deleted_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'invoices' THEN
        IF TG_OP = 'TRUNCATE' THEN
            DELETE FROM invoice_checker.hour_entries;
        ELSE
            DELETE FROM invoice_checker.hour_entries
            WHERE invoice_id IN (SELECT id FROM old_rows);
        END IF;
    ELSIF TG_OP = 'TRUNCATE' THEN
        UPDATE invoice_checker.hour_entries SET user_guid = NULL WHERE user_guid IS NOT NULL;
    ELSE
        UPDATE invoice_checker.hour_entries SET user_guid = NULL
        WHERE user_guid IN (SELECT guid FROM old_rows);
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER deleted_invoices_take_their_hour_entries
    AFTER DELETE ON invoice_checker.invoices
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_checker.hour_entries_follow_deleted_rows()""",
    """CREATE TRIGGER truncated_invoices_take_their_hour_entries
    AFTER TRUNCATE ON invoice_checker.invoices
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_checker.hour_entries_follow_deleted_rows()""",
    """CREATE TRIGGER deleted_users_leave_hour_entries_without_user
    AFTER DELETE ON invoice_checker.tenkfeet_users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_checker.hour_entries_follow_deleted_rows()""",
    """CREATE TRIGGER truncated_users_leave_hour_entries_without_user
    AFTER TRUNCATE ON invoice_checker.tenkfeet_users
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_checker.hour_entries_follow_deleted_rows()""",
    """CREATE FUNCTION invoice_checker.keys_hour_entries_name_never_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'invoices' THEN
        IF EXISTS (SELECT FROM invoice_checker.hour_entries WHERE invoice_id = OLD.id) THEN
            RAISE EXCEPTION 'the id of an invoice that hour entries name cannot change'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF EXISTS (SELECT FROM invoice_checker.hour_entries WHERE user_guid = OLD.guid) THEN
        RAISE EXCEPTION 'the guid of a 10000ft user that hour entries name cannot change'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$""",
    """CREATE TRIGGER invoice_ids_hour_entries_name_never_change
    BEFORE UPDATE OF id ON invoice_checker.invoices
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION invoice_checker.keys_hour_entries_name_never_change()""",
    """CREATE TRIGGER user_guids_hour_entries_name_never_change
    BEFORE UPDATE OF guid ON invoice_checker.tenkfeet_users
    FOR EACH ROW WHEN (OLD.guid IS DISTINCT FROM NEW.guid)
    EXECUTE FUNCTION invoice_checker.keys_hour_entries_name_never_change()""",
]

DOWNGRADE = [
    "DROP TRIGGER user_guids_hour_entries_name_never_change ON invoice_checker.tenkfeet_users",
    "DROP TRIGGER invoice_ids_hour_entries_name_never_change ON invoice_checker.invoices",
    "DROP FUNCTION invoice_checker.keys_hour_entries_name_never_change()",
    "DROP TRIGGER truncated_users_leave_hour_entries_without_user ON invoice_checker.tenkfeet_users",
    "DROP TRIGGER deleted_users_leave_hour_entries_without_user ON invoice_checker.tenkfeet_users",
    "DROP TRIGGER truncated_invoices_take_their_hour_entries ON invoice_checker.invoices",
    "DROP TRIGGER deleted_invoices_take_their_hour_entries ON invoice_checker.invoices",
    "DROP FUNCTION invoice_checker.hour_entries_follow_deleted_rows()",
    "DROP TRIGGER updated_hour_entries_name_existing_rows ON invoice_checker.hour_entries",
    "DROP TRIGGER inserted_hour_entries_name_existing_rows ON invoice_checker.hour_entries",
    "DROP FUNCTION invoice_checker.hour_entries_name_existing_rows()",
]


def upgrade() -> None:
    for name in FOREIGN_KEYS:
        op.drop_constraint(name, "hour_entries", schema=SCHEMA, type_="foreignkey")
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
    for name, (column, table, key, on_delete) in FOREIGN_KEYS.items():
        op.create_foreign_key(
            name,
            "hour_entries",
            table,
            [column],
            [key],
            source_schema=SCHEMA,
            referent_schema=SCHEMA,
            ondelete=on_delete,
        )
