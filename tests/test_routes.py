"""Deny by default: every route needs a signed-in user unless it is on the public list.

The list of routes comes from the URL resolver, so a new route is covered automatically:
add it without protection and this test fails until it is protected or listed here.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# Deliberately public, each for a reason.
PUBLIC_ROUTES = {
    "/healthz/": "liveness probe",
    "/readyz/": "readiness probe",
    "/admin/logout/": "signing out",
    # django-allauth's sign-in journey: each page shows a form or a message, never data.
    "/accounts/login/": "the sign-in page itself",
    "/accounts/logout/": "signing out",
    "/accounts/inactive/": "tells a deactivated user why they cannot sign in",
    "/accounts/signup/": "says sign-up is closed (staff are invited)",
    "/accounts/password/reset/": "asks for an email to send a reset link to",
    "/accounts/password/reset/done/": "says the reset link was sent",
    "/accounts/password/reset/key/1-1/": "the reset link itself (checks its key)",
    "/accounts/password/reset/key/done/": "says the password was changed",
    "/accounts/confirm-email/": "confirms an address from an emailed key",
    "/accounts/confirm-email/1/": "confirms an address from an emailed key",
    "/accounts/google/login/": "starts Google sign-in",
    "/accounts/google/login/callback/": "Google's redirect back (state + PKCE checked)",
    "/accounts/3rdparty/login/cancelled/": "says Google sign-in was cancelled",
    "/accounts/3rdparty/login/error/": "says Google sign-in failed",
    "/accounts/3rdparty/signup/": "refuses sign-up through Google",
    "/accounts/social/login/cancelled/": "allauth's old address for the page above",
    "/accounts/social/login/error/": "allauth's old address for the page above",
    "/accounts/social/signup/": "allauth's old address for the page above",
    "/accounts/social/connections/": "allauth's old address; redirects to sign-in",
    # Online booking for patients: listed clinicians, free times, a signed link per booking.
    "/book/": "the public clinician directory",
    "/book/1/": "a listed clinician's free times",
    "/book/1/details/": "a patient gives their details to book",
    "/book/verify/": "the SMS code for a booking waiting in this visitor's session",
    "/book/done/1/": "the booking confirmation (signed link)",
    "/book/cancel/1/": "cancelling a booking (signed link)",
    "/book/1/release/": "a visitor letting go of the time held in their own session",
    "/book/a/1/": "the booking's own page, the link in its confirmation (signed link)",
    "/book/move/1/": "moving a booking to another free time (signed link)",
    "/book/calendar/1/appointment.ics": "the booking as an .ics file (signed link)",
    "/metrics": "Prometheus counters, behind their own bearer token (404 without it)",
}


def all_routes() -> list[str]:
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    paths = set()
    for route in found:
        if "format" in route:
            continue  # DRF's ".json" suffix variants of routes already listed
        path = re.sub(r"\(\?P<[^>]+>[^)]+\)", "1", route)
        path = re.sub(r"<path:[^>]+>", "x/y", path)
        path = re.sub(r"<[^>]+>", "1", path).replace("^", "").replace("$", "").replace("\\", "")
        paths.add("/" + path)
    return sorted(paths)


def test_the_inventory_covers_api_and_admin():
    routes = all_routes()

    assert "/api/v1/patients/" in routes
    assert "/api/v1/appointments/1/cancel/" in routes
    assert "/admin/patients/patient/" in routes
    assert len(routes) > 60


@pytest.mark.parametrize("path", [r for r in all_routes() if r not in PUBLIC_ROUTES])
def test_anonymous_callers_are_refused_everywhere(path):
    client = APIClient()

    for method in ("get", "post", "patch", "delete"):
        response = getattr(client, method)(path)
        to_login = response.status_code == 302 and "/login/" in response["Location"]
        assert to_login or response.status_code in (401, 403, 404, 405), (method, path)
        assert response.status_code < 500
