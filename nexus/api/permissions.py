"""Who may call an API view: role permissions for people, scopes for tokens.

Every API view is closed by default: it needs a signed-in user (or token) holding the Django
model permission for what the request does. A view names its model through its queryset, or
with `permission_model` when it has none; `required_permissions` overrides the mapping.
"""

from typing import Any, cast

from rest_framework import permissions
from rest_framework.request import Request

from accounts.models import ApiToken, User

_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def _model_of(view: Any) -> Any:
    model = getattr(view, "permission_model", None)
    if model is None:
        queryset = getattr(view, "queryset", None)
        model = queryset.model if queryset is not None else None
    return model


class RolePermission(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        method = (request.method or "").lower()
        if method not in view.http_method_names or not hasattr(view, method):
            return True  # Let the view answer 405 rather than a misleading 403.
        required = getattr(view, "required_permissions", {}).get(getattr(view, "action", None))
        if required is None:
            model = _model_of(view)
            if model is None:
                return False  # Nothing to check against: closed, not open.
            meta = model._meta
            required = [
                f"{meta.app_label}.{_ACTIONS.get(request.method or '', 'change')}_{meta.model_name}"
            ]
        if not user.has_perms(required):
            return False
        token = request.auth
        if isinstance(token, ApiToken):
            resource = getattr(view, "scope_resource", None)
            action = "read" if request.method in permissions.SAFE_METHODS else "write"
            return resource is not None and token.allows(resource, action)
        return True


def request_user(request: Request) -> User:
    """The signed-in user of a request that RolePermission has already let through."""
    return cast(User, request.user)
