from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from accounts.services import mfa_enrolled, mfa_required

# Once a session has met the rule it is remembered there, so the check costs nothing after
# the first request. (Those who must have a factor cannot remove it: accounts.adapters.)
MFA_OK_SESSION_KEY = "nexus_mfa_ok"
# Where an HTML request was going when it was sent to enrol; the recovery-codes page that
# ends enrolment offers to continue there (templates/mfa/recovery_codes/index.html).
MFA_NEXT_SESSION_KEY = "nexus_mfa_next"
# Enrolling, signing out and the probes never show patient data.
_ALLOWED_PREFIXES = ("/accounts/", "/static/", "/healthz/", "/readyz/")


class MfaEnrolmentMiddleware:
    """A signed-in user who must use a second factor and has none is sent to set one up
    before anything else: HTML requests are redirected to TOTP enrolment, API calls made
    with the session get 403 `mfa_required`. Bearer tokens are not sessions and are
    unaffected; allauth itself asks enrolled users for their code at every sign-in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.session.get(MFA_OK_SESSION_KEY)
            and not request.path.startswith(_ALLOWED_PREFIXES)
        ):
            if mfa_required(user) and not mfa_enrolled(user):
                return self._enrol(request)
            request.session[MFA_OK_SESSION_KEY] = True
        return self.get_response(request)

    @staticmethod
    def _enrol(request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": "Set up two-factor authentication before using Nexus.",
                    "code": "mfa_required",
                    "errors": {},
                },
                status=403,
            )
        if request.method == "GET" and not request.headers.get("HX-Request"):
            request.session[MFA_NEXT_SESSION_KEY] = request.get_full_path()
        return redirect("mfa_activate_totp")
