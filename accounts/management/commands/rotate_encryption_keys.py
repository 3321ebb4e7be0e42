import time
from typing import Any

from allauth.mfa.models import Authenticator
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.oauth import oauth_rotate_keys
from integrations.outbox import outbox_rotate_keys
from nexus import crypto

# The secrets allauth's MFA keeps in Authenticator.data, through accounts.adapters.MfaAdapter.
_ENCRYPTED_KEYS = ("secret", "seed")


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key in NEXUS_ENCRYPTION_KEYS. "
        "Run after putting a new key first; then the old key can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        rotated = 0
        with transaction.atomic():
            for authenticator in Authenticator.objects.select_for_update().order_by("pk"):
                data = dict(authenticator.data)
                for key in _ENCRYPTED_KEYS:
                    value = data.get(key)
                    if isinstance(value, str):
                        data[key] = (
                            crypto.reencrypt(value)
                            if value.startswith(crypto.PREFIX)
                            else crypto.encrypt(value)  # stored before encryption was on
                        )
                if data != authenticator.data:
                    authenticator.data = data
                    authenticator.save(update_fields=["data"])
                    rotated += 1
            # OAuth tokens of connected accounts (Xero, Gmail).
            rotated += oauth_rotate_keys()
            # Verification codes still to be sent (integrations.models.Message.SEALED_KINDS).
            rotated += outbox_rotate_keys()
        elapsed = time.monotonic() - started
        self.stdout.write(f"Re-encrypted {rotated} secret(s) in {elapsed:.2f} s.")
