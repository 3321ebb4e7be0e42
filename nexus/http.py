"""Request types for the staff pages.

Django types `request.user` as "a user or an anonymous one" and knows nothing of
`request.htmx`. Behind `login_required` the user is always a real `User`, and
`HtmxMiddleware` always sets `htmx`; views that say so in their signature need no casts
(healthchecks' `AuthenticatedHttpRequest` is the model).
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class StaffRequest(HttpRequest):
    """A signed-in staff member's request: only for views behind `login_required`."""

    user: User
    htmx: HtmxDetails


class HtmxRequest(HttpRequest):
    """Any request, signed in or not, as it leaves `HtmxMiddleware`."""

    htmx: HtmxDetails


def staff_user(request: HttpRequest) -> User:
    """The signed-in user where the signature cannot say so: Django admin methods, whose
    `request` type is fixed by ModelAdmin (the admin site lets only superusers in)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
