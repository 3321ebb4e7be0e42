from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Permissions only exist after every app has migrated, so the role groups are
        # (re)built on post_migrate. It is idempotent and keeps every database, test ones
        # included, with the same roles.
        post_migrate.connect(_sync_roles, sender=self)


def _sync_roles(**kwargs: Any) -> None:
    from accounts.roles import roles_sync

    roles_sync(using=kwargs.get("using", "default"))
