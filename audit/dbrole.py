"""The PostgreSQL privileges of the role the application runs as (README, "Database roles").

Migrations run as the owner of the schema; the web and worker processes connect as an app
role that may read and write the other tables but, on the audit table, only INSERT and
SELECT, plus UPDATE of the three chain columns that sealing fills in once (the append-only
trigger refuses every other UPDATE, and any DELETE or TRUNCATE, even to the owner).
`manage.py audit_app_role <role>` prints these statements; a test runs them.
"""

from audit.models import AuditEvent

_CHAIN_COLUMNS = "seq, prev_hash, hash"


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
        # The audit table: revoking UPDATE also drops any column grants, so this comes first.
        f'REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM "{app_role}"',
        f'GRANT UPDATE ({_CHAIN_COLUMNS}) ON {table} TO "{app_role}"',
    ]
