"""A database trigger keeps an API token's owner and key as issued (issue 12 item 1): an
UPDATE that changes either is refused, whichever code path sends it."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

_MESSAGE = "the owner and key of an API token cannot change after issue"

_POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION accounts_apitoken_keep_owner() RETURNS trigger AS $$
    BEGIN
        IF NEW.user_id IS DISTINCT FROM OLD.user_id
           OR NEW.key_hash IS DISTINCT FROM OLD.key_hash THEN
            RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    "DROP TRIGGER IF EXISTS accounts_apitoken_keep_owner ON accounts_apitoken;",
    """
    CREATE TRIGGER accounts_apitoken_keep_owner BEFORE UPDATE ON accounts_apitoken
    FOR EACH ROW EXECUTE FUNCTION accounts_apitoken_keep_owner();
    """,
]
_POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS accounts_apitoken_keep_owner ON accounts_apitoken;",
    "DROP FUNCTION IF EXISTS accounts_apitoken_keep_owner();",
]
_SQLITE = [
    f"""
    CREATE TRIGGER IF NOT EXISTS accounts_apitoken_keep_owner
    BEFORE UPDATE OF user_id, key_hash ON accounts_apitoken
    WHEN NEW.user_id IS NOT OLD.user_id OR NEW.key_hash IS NOT OLD.key_hash
    BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END;
    """,
]
_SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS accounts_apitoken_keep_owner;"]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": _POSTGRESQL, "sqlite": _SQLITE}),
            _run({"postgresql": _POSTGRESQL_REVERSE, "sqlite": _SQLITE_REVERSE}),
        ),
    ]
