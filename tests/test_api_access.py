"""Every API route is closed to anonymous callers; the list comes from the URL resolver."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def api_routes() -> list[str]:
    routes: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                routes.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    paths = set()
    for route in routes:
        if not route.startswith("api/"):
            continue
        path = re.sub(r"\(\?P<[^>]+>[^)]+\)", "1", route)
        path = re.sub(r"<[^>]+>", "1", path).replace("^", "").replace("$", "")
        if "format" in route or "\\." in path:
            continue
        paths.add("/" + path)
    return sorted(paths)


def test_the_inventory_finds_the_api():
    assert "/api/v1/patients/" in api_routes()
    assert "/api/v1/appointments/1/cancel/" in api_routes()


@pytest.mark.parametrize("path", api_routes())
def test_anonymous_callers_are_refused_everywhere(path):
    client = APIClient()

    for method in ("get", "post", "patch"):
        response = getattr(client, method)(path)
        sent_to_login = response.status_code == 302 and "/login/" in response["Location"]
        assert sent_to_login or response.status_code in (401, 403, 405), (method, path)
