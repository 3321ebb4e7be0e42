from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.dbrole import app_role_sql


class Command(BaseCommand):
    help = (
        "Print the GRANT statements for the PostgreSQL role the app runs as: full use of the "
        "other tables, only INSERT and SELECT on the audit table (sealing runs as the owner, "
        "through NEXUS_AUDIT_OWNER_DATABASE_URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app_role", help="the role the web and worker processes log in as")
        parser.add_argument(
            "--owner", default="nexus_owner", help="the role that owns the schema and migrates"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for statement in app_role_sql(app_role=options["app_role"], owner=options["owner"]):
            self.stdout.write(f"{statement};")
