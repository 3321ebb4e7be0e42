from typing import Any

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from accounts import schema  # noqa: F401  (registers the OpenAPI auth scheme)

        # Each app's permissions appear in its own post_migrate, so the role groups are
        # (re)built after every app's; the sync is idempotent and completes once all the
        # permissions it grants exist. Every database, test ones included, gets the roles.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")

        # Role (group) membership changes are audited whichever code makes them.
        from accounts.access_audit import groups_changed
        from accounts.models import User

        m2m_changed.connect(
            groups_changed, sender=User.groups.through, dispatch_uid="accounts.groups_changed"
        )


def _sync_roles(**kwargs: Any) -> None:
    from accounts.roles import roles_sync

    roles_sync(using=kwargs.get("using", "default"))
