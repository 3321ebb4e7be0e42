from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.services import token_issue
from nexus.errors import DomainError

DEFAULT_SCOPES = ["*:read", "*:write"]


class Command(BaseCommand):
    help = "Issue an API token for a user and print it. The token is shown only this once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="API token")
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=DEFAULT_SCOPES,
            help='e.g. "patients:read appointments:write"; "*:read" covers every resource.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(email__iexact=options["email"], is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"No active user with email {options['email']!r}.") from exc
        try:
            # The same rules as the staff pages, the second factor's included.
            _, raw = token_issue(
                request=None,
                user=user,
                name=options["name"],
                scopes=options["scopes"],
                by=None,
                via="issue_api_token",
            )
        except DomainError as error:
            raise CommandError(error.detail) from error
        self.stdout.write(raw)
