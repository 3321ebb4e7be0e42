from typing import Any

from django.core.management.base import BaseCommand

from integrations.services import reminders_send


class Command(BaseCommand):
    help = (
        "Queue an SMS reminder for every booked or confirmed appointment in the next 24 hours "
        "that has none yet (the job Celery beat runs). Safe to run again at any time."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        queued = reminders_send()
        self.stdout.write(f"{queued} reminder(s) queued.")
