from typing import Any

from django.core.management.base import BaseCommand

from integrations.xero.services import xero_sync


class Command(BaseCommand):
    help = "Read payments and voids back from Xero now (what the periodic task does)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = xero_sync()
        self.stdout.write(
            f"Read {counts['read']} invoice(s) from Xero: {counts['paid']} paid, "
            f"{counts['voided']} voided."
        )
