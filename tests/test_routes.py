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
    "/admin/login/": "the sign-in page itself",
    "/admin/logout/": "signing out",
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
