from django.contrib import messages
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.http import require_http_methods

from accounts.models import User
from accounts.services import INVITED_USER_SESSION_KEY


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Where an invitation link lands: set a password, or continue with Google, which
    links that Google account to this one (accounts.adapters)."""
    user = _invited_user(uidb64, token)
    if user is None:
        return render(request, "account/invitation_invalid.html", status=404)
    request.session[INVITED_USER_SESSION_KEY] = user.pk
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        request.session.pop(INVITED_USER_SESSION_KEY, None)
        messages.success(request, "Your password is set. Sign in to start using Nexus.")
        return redirect("account_login")
    return render(request, "account/invitation.html", {"form": form, "invited": user})


def _invited_user(uidb64: str, token: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user
