from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from documents.services import documents_purge


class Command(BaseCommand):
    help = (
        "Remove from storage the files of documents deleted more than --days ago "
        "(NEXUS_DOCUMENT_PURGE_DAYS). Their records stay, marked purged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.NEXUS_DOCUMENT_PURGE_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(days=options["days"])
        purged = documents_purge(deleted_before=cutoff)
        self.stdout.write(f"Purged {purged} deleted document(s) from storage.")
