import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_chain_verify, audit_seal


class Command(BaseCommand):
    help = (
        "Seal new audit events, then check the hash chain, each event's MAC and the latest "
        "checkpoint of the chain head; report the first break."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        sealed = audit_seal()
        report = audit_chain_verify()
        took = time.monotonic() - started
        if report.first_broken_id is not None:
            raise CommandError(
                f"Audit chain broken at event {report.first_broken_id}: {report.reason} "
                f"({report.checked} events before it verified)."
            )
        if not report.ok:
            raise CommandError(f"Audit chain broken: {report.reason}.")
        self.stdout.write(
            f"Audit chain intact: {report.checked} events verified ({sealed} newly sealed) "
            f"in {took:.2f}s."
        )
