from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiToken, User
from audit.models import AuditEvent
from audit.services import audit_account

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
        for scope in options["scopes"]:
            resource, _, action = scope.partition(":")
            if not resource or action not in {"read", "write"}:
                raise CommandError(f"Bad scope {scope!r}: use <resource>:read or <resource>:write.")
        token, raw = ApiToken.issue(user=user, name=options["name"], scopes=options["scopes"])
        audit_account(
            request=None,
            action=AuditEvent.Action.TOKEN_ISSUE,
            obj=token,
            detail={"user": user.pk, "scopes": token.scopes, "via": "issue_api_token"},
        )
        self.stdout.write(raw)
