from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


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

        # The cached signed-in user (accounts/auth_cache.py) is dropped on any change to
        # who they are or what they may do, whichever code makes it. (User.save() and
        # user_sessions_end() drop it themselves.)
        from django.contrib.auth.models import Group, Permission

        from accounts import auth_cache

        post_delete.connect(auth_cache.user_changed, sender=User, dispatch_uid="auth_cache.user")
        user_logged_out.connect(auth_cache.user_signed_out, dispatch_uid="auth_cache.sign_out")
        for through in (
            User.groups.through,
            User.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(
                auth_cache.access_changed,
                sender=through,
                dispatch_uid=f"auth_cache.{through.__name__}",
            )
        for model in (Group, Permission):
            for signal in (post_save, post_delete):
                signal.connect(
                    auth_cache.access_changed,
                    sender=model,
                    dispatch_uid=f"auth_cache.{model.__name__}.{signal is post_save}",
                )


def _sync_roles(**kwargs: Any) -> None:
    from accounts.roles import roles_sync

    roles_sync(using=kwargs.get("using", "default"))
