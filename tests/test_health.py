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


# A load balancer's health check names the task by its IP and speaks plain HTTP
# (deployment.md §7): the probes answer before the host check and the HTTPS redirect.
@pytest.mark.parametrize("path", ["/healthz/", "/readyz/"])
def test_probes_answer_a_load_balancer_that_sends_the_task_ip_as_host(client, settings, path):
    settings.ALLOWED_HOSTS = ["nexus.example.org"]
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(path, HTTP_HOST="10.0.1.23:8000")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response["X-Request-ID"]
    assert response["X-Frame-Options"] == "DENY", "the usual headers still apply"


def test_metrics_scrape_by_task_ip_needs_the_token(client, settings):
    settings.ALLOWED_HOSTS = ["nexus.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    settings.NEXUS_METRICS_TOKEN = "scrape-secret"

    without = client.get("/metrics", HTTP_HOST="10.0.1.23:8000")
    scraped = client.get(
        "/metrics", HTTP_HOST="10.0.1.23:8000", HTTP_AUTHORIZATION="Bearer scrape-secret"
    )

    assert without.status_code == 404
    assert scraped.status_code == 200
    assert b"nexus_booking_funnel_total" in scraped.content


def test_other_paths_still_refuse_an_unknown_host(client, settings):
    settings.ALLOWED_HOSTS = ["nexus.example.org"]

    response = client.get("/accounts/login/", HTTP_HOST="10.0.1.23:8000")

    assert response.status_code == 400
