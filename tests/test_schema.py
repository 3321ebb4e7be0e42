from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from nexus.api import schema as schema_view

pytestmark = pytest.mark.django_db


def test_openapi_schema_validates_without_warnings(tmp_path: Path):
    out = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    assert "/api/v1/clinicians/{id}/availability/" in paths
    assert "/api/v1/appointments/{id}/no-show/" in paths
    assert "/api/v1/notes/{id}/addenda/" in paths
    assert "bearerAuth" in schema["components"]["securitySchemes"]


def test_schema_and_docs_need_a_login(client, admin_user):
    assert client.get("/api/schema/").status_code in (401, 403)

    client.force_login(admin_user)
    docs = client.get("/api/docs/")

    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    assert client.get("/api/schema/").status_code == 200


@pytest.mark.parametrize("accept", [None, "*/*", "application/vnd.oai.openapi"])
def test_the_schema_refused_anonymously_answers_the_json_error_shape(client, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = client.get("/api/schema/", **headers)

    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail", "code"}


def test_the_schema_itself_is_still_yaml(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/api/schema/")

    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert "paths" in yaml.safe_load(response.content)


def test_the_schema_is_generated_once_and_served_from_memory_after(client, admin_user, monkeypatch):
    monkeypatch.setattr(schema_view, "_GENERATED", {})
    calls = []
    real = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    client.force_login(admin_user)

    first = client.get("/api/schema/")
    second = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert len(calls) == 1
    assert yaml.safe_load(first.content) == second.json()
