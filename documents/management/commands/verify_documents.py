from typing import Any

from django.core.management.base import BaseCommand, CommandError

from documents.models import Document
from documents.services import documents_verify


class Command(BaseCommand):
    help = "Re-hash every stored document and report any that are missing or changed."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = 0
        for problem in documents_verify():
            problems += 1
            self.stdout.write(f"document {problem.document_id}: {problem.problem}")
        checked = Document.objects.filter(purged_at__isnull=True).count()
        if problems:
            raise CommandError(f"{problems} of {checked} document(s) failed the check.")
        self.stdout.write(f"All {checked} document(s) are intact.")
