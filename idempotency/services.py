from datetime import timedelta

from django.utils import timezone

from idempotency.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)


def idempotency_keys_purge() -> int:
    """Forget keys older than 24 hours; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
