import pytest

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_login(client):
    response = client.get("/healthz/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_reports_each_dependency(client):
    response = client.get("/readyz/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz/", headers={"X-Request-ID": "abcdef123456"})

    assert response["X-Request-ID"] == "abcdef123456"


def test_readiness_fails_with_503_when_the_database_is_down(client, monkeypatch):
    from nexus import health

    def broken() -> None:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(health, "_database", broken)

    response = client.get("/readyz/")

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
