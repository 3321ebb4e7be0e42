from django.db import models


class IdempotencyKey(models.Model):
    """The first answer to an API write sent with an `Idempotency-Key` header, replayed to
    retries of the same request from the same user or token for 24 hours.

    `status_code` is null while the first request is still running; the row commits with
    that request's changes or not at all."""

    owner = models.CharField(max_length=40, help_text='"user:<id>" or "token:<id>".')
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(blank=True, default=b"")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_per_owner")
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
