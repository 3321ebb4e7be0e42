import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_chain_verify


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; report the first edited or missing event."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        report = audit_chain_verify()
        took = time.monotonic() - started
        if report.first_broken_id is not None:
            raise CommandError(
                f"Audit chain broken at event {report.first_broken_id}: {report.reason} "
                f"({report.checked} events before it verified)."
            )
        self.stdout.write(f"Audit chain intact: {report.checked} events verified in {took:.2f}s.")
