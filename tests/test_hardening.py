"""Smaller hardening from the outside review (issue 12 item 12): staff search throttled like
the API, cookies out of scripts' reach and host-locked under HTTPS, no server banner, a
Permissions-Policy, and an OpenAPI schema that tells the truth."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from nexus import ratelimit
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_staff_patient_search_is_throttled_per_user(admin_user, monkeypatch):
    monkeypatch.setattr(ratelimit._StaffSearchThrottle, "THROTTLE_RATES", {"search": "3/min"})
    client = Client()
    client.force_login(admin_user)

    answers = [client.get("/patients/", {"q": "Ada"}) for _ in range(4)]
    picked = client.get("/patients/pick/", {"q": "Ada"})

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[3]["Retry-After"]) > 0
    assert picked.status_code == 429
    assert client.get("/patients/").status_code == 200, "opening the page is not a search"


def test_every_answer_carries_a_permissions_policy(client, admin_api):
    for response in (
        client.get("/book/"),
        client.get("/accounts/login/"),
        admin_api.get("/api/v1/clinics/"),
    ):
        assert "camera=()" in response["Permissions-Policy"]
        assert "geolocation=()" in response["Permissions-Policy"]


def test_the_csrf_cookie_is_out_of_scripts_reach(client):
    page = client.get("/accounts/login/")

    assert page.cookies["csrftoken"]["httponly"]


def test_under_https_both_cookies_are_host_locked():
    env = {**os.environ, "DJANGO_HTTPS": "1", "DJANGO_SETTINGS_MODULE": "nexus.settings"}
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_HTTPONLY, s.SESSION_COOKIE_DOMAIN,"
        " s.CSRF_COOKIE_DOMAIN, s.SESSION_COOKIE_PATH, s.CSRF_COOKIE_PATH)"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()

    assert out == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "True",
        "True",
        "None",
        "None",
        "/",
        "/",
    ]


def test_gunicorn_sends_no_server_banner():
    from gunicorn.http.wsgi import Response

    import nexus.wsgi  # noqa: F401 - what gunicorn imports to serve Nexus

    class Request:
        version = (1, 1)
        method = "GET"

        def should_close(self) -> bool:
            return False

    response = Response(Request(), None, None)
    response.status, response.status_code = "200 OK", 200
    headers = "".join(response.default_headers()).lower()

    assert "server:" not in headers
    assert "date:" in headers


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("schema") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return yaml.safe_load(Path(out).read_text())


def test_the_schema_says_availability_is_a_plain_list(schema):
    ok = schema["paths"]["/api/v1/clinicians/{id}/availability/"]["get"]["responses"]["200"]

    assert ok["content"]["application/json"]["schema"]["type"] == "array"


def test_the_schema_documents_the_errors_every_operation_can_give(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404", "429"} <= codes, (method, path)
            if method in ("post", "patch", "put", "delete"):
                assert "409" in codes, (method, path)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"]


def test_the_schema_says_page_size_is_clamped_and_it_is(schema, admin_api):
    PatientFactory.create_batch(2)
    size = next(
        p
        for p in schema["paths"]["/api/v1/patients/"]["get"]["parameters"]
        if p["name"] == "page_size"
    )

    assert "maximum" not in size["schema"]
    assert "treated as 100" in size["description"]
    assert admin_api.get("/api/v1/patients/", {"page_size": 101}).status_code == 200
