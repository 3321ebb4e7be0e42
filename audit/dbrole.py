"""The PostgreSQL privileges of the role the application runs as (README, "Database roles").

Migrations run as the owner of the schema; the web and worker processes connect as an app
role that may read and write the other tables but, on the audit table, only INSERT and
SELECT. Sealing, which fills in the chain columns of new events once, runs as the owner
through the `audit_owner` database alias (NEXUS_AUDIT_OWNER_DATABASE_URL): the beat
container and `manage.py audit_verify`. The append-only trigger refuses every other
UPDATE, and any DELETE or TRUNCATE, even to the owner.
`manage.py audit_app_role <role>` prints these statements; a test runs them.
"""

from audit.models import AuditEvent


def app_role_sql(*, app_role: str, owner: str) -> list[str]:
    table = AuditEvent._meta.db_table
    return [
        f'GRANT USAGE ON SCHEMA public TO "{app_role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app_role}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app_role}"',
        # Tables and sequences that later migrations create get the same.
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public '
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{app_role}"',
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public '
        f'GRANT USAGE, SELECT ON SEQUENCES TO "{app_role}"',
        # The audit table: INSERT and SELECT only. Revoking UPDATE at table level also
        # drops column grants an earlier version of this set-up gave for sealing.
        f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {table} FROM "{app_role}"',
    ]
