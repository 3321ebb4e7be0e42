from typing import Any

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.access_audit import audited_by_caller
from accounts.forms import UserInviteForm
from accounts.models import ApiToken, User
from accounts.services import (
    invitation_send,
    token_revoke,
    user_access,
    user_invite,
    user_sessions_end,
)
from audit.models import AuditEvent
from audit.services import audit_account
from nexus.http import staff_user

# The access a user had when the admin opened the change form, kept on the request
# (ModelAdmin instances are shared between requests) to compare after saving.
_ACCESS_BEFORE = "_nexus_access_before"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "groups"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    # Nobody chooses a password for someone else: a new user gets an invitation by email.
    add_form = UserInviteForm
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "role")}),)
    filter_horizontal = ["groups"]
    actions = ["resend_invitation"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not change:
            user_invite(
                request=request,
                user=obj,
                role=form.cleaned_data["role"],
                invited_by=staff_user(request),
            )
            messages.info(request, f"An invitation has been emailed to {obj.email}.")
            return
        setattr(request, _ACCESS_BEFORE, user_access(User.objects.get(pk=obj.pk)))
        with audited_by_caller():  # save_related records the change, groups included
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with audited_by_caller():
            super().save_related(request, form, formsets, change)
        before = getattr(request, _ACCESS_BEFORE, None)
        after = user_access(form.instance)
        if change and before != after:
            user_sessions_end(user=form.instance)
            audit_account(
                request=request,
                action=AuditEvent.Action.ROLE_CHANGE,
                obj=form.instance,
                detail={"before": before, "after": after},
            )

    @admin.action(description="Email a new invitation link")
    def resend_invitation(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        pending = queryset.filter(is_active=True, last_login__isnull=True)
        for user in pending:
            invitation_send(request=request, user=user, invited_by=staff_user(request))
        messages.info(request, f"Sent {len(pending)} invitation(s); signed-in users were skipped.")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_hint", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__email", "key_hint"]
    list_select_related = ["user"]
    # A token is fixed at issue: its owner above all (re-pointing one would let its holder
    # act as someone else), and its scopes. Revoke with the action, which also drops the
    # token from the authentication cache; issue a new one for other access.
    fields = ("user", "name", "scopes", "key_hint", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset.filter(revoked_at__isnull=True).select_related("user"):
            token_revoke(request=request, token=token, by=staff_user(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are issued from the staff pages or `manage.py issue_api_token`, which
        # check the second-factor rule and show the key once.
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        # Revoked, never deleted: the audit trail refers to it.
        return False


# allauth's and Django's own account models, registered again so that nothing here changes
# access without the record: roles are defined in code, second factors and Google links can
# only be removed (audited, signing the person out), and secrets are never shown.
admin.site.unregister(Group)
admin.site.unregister(Authenticator)
admin.site.unregister(SocialAccount)


@admin.register(Group)
class RoleAdmin(GroupAdmin):
    """Roles are accounts.roles.ROLE_PERMISSIONS, re-applied after every migrate; an edit
    here would be silently undone, so the page only shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return False


class _RemoveOnlyAdmin(admin.ModelAdmin):
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _removed(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._removed(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self._removed(request, obj)
        super().delete_queryset(request, queryset)


@admin.register(Authenticator)
class AuthenticatorAdmin(_RemoveOnlyAdmin):
    list_display = ["user", "type", "created_at", "last_used_at"]
    list_filter = ["type"]
    search_fields = ["user__email"]
    fields = ("user", "type", "created_at", "last_used_at")  # never `data`: the secrets
    readonly_fields = fields

    def _removed(self, request: HttpRequest, obj: Any) -> None:
        user_sessions_end(user=obj.user)
        audit_account(
            request=request,
            action=AuditEvent.Action.MFA_CHANGE,
            obj=obj.user,
            detail={"change": "removed", "factor": obj.type, "view": "admin"},
        )


@admin.register(SocialAccount)
class SocialAccountAdmin(_RemoveOnlyAdmin):
    list_display = ["user", "provider", "last_login", "date_joined"]
    list_filter = ["provider"]
    search_fields = ["user__email"]
    fields = ("user", "provider", "uid", "last_login", "date_joined")
    readonly_fields = fields

    def _removed(self, request: HttpRequest, obj: Any) -> None:
        user_sessions_end(user=obj.user)
        audit_account(
            request=request,
            action=AuditEvent.Action.ROLE_CHANGE,
            obj=obj.user,
            detail={"change": "google_unlinked", "view": "admin"},
        )
