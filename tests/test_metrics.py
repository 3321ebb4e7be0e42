"""What /metrics and the request log tell an operator (issue 15 item 7): latency and status
by route, audit write failures, the outbox's depth and age, Celery task outcomes, the
booking funnel; and a JSON line per request with ids, route, status and duration, no PHI."""

import json
import logging
import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from integrations.models import Message
from nexus.celery import app as celery_app
from nexus.logging import build_formatter
from tests.audit.test_audit_trail import break_the_audit_table
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db
TOKEN = "scrape-secret"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.NEXUS_METRICS_TOKEN = TOKEN


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def ada(db):
    return PatientFactory(given_name="Canaryada", family_name="Zzyzxlovelace")


def test_latency_and_status_are_counted_by_route_name_never_by_path(client, reception_user, ada):
    client.force_login(reception_user)
    client.get(f"/patients/{ada.pk}/")
    client.get(f"/patients/{ada.pk}/")
    client.get("/patients/?q=Zzyzxlovelace")
    client.get("/no/such/page/")

    samples = scrape(client)
    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()

    chart = {"route": "patients:chart", "method": "GET"}
    assert sample(samples, "nexus_http_request_duration_seconds_count", **chart) == 2
    assert sample(samples, "nexus_http_request_duration_seconds_bucket", **chart, le="+Inf") == 2
    assert sample(samples, "nexus_http_request_duration_seconds_sum", **chart) > 0
    assert sample(samples, "nexus_http_responses_total", **chart, status="200") == 2
    assert (
        sample(samples, "nexus_http_responses_total", route="unmatched", method="GET", status="404")
        == 1
    )
    # Buckets are cumulative: each edge counts everything at or below it.
    edges = [
        sample(samples, "nexus_http_request_duration_seconds_bucket", **chart, le=le)
        for le in ("0.025", "0.1", "0.5", "2.0", "8.0", "+Inf")
    ]
    assert edges == sorted(edges)
    assert f"/patients/{ada.pk}" not in body and "Zzyzxlovelace" not in body
    assert "/no/such/page" not in body


def test_an_audit_write_failure_is_counted(reception_api, ada):
    client = Client()
    break_the_audit_table()

    assert reception_api.get(f"/api/v1/patients/{ada.pk}/").status_code == 503

    samples = scrape(client)  # the broken transaction leaves out only the outbox gauges
    assert sample(samples, "nexus_audit_write_failures_total", action="read") == 1
    assert sample(samples, "nexus_audit_write_failures_total", action="update") == 0


def test_the_outbox_depth_and_its_oldest_row_are_reported(client, ada):
    def message(status: str, minutes_old: int) -> None:
        row = Message.objects.create(kind="reminder", to="+61412345678", body="x", status=status)
        Message.objects.filter(pk=row.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_old)
        )

    message("queued", 20)
    message("queued", 1)
    message("sending", 3)
    message("unknown", 90)
    message("sent", 600)

    samples = scrape(client)

    assert sample(samples, "nexus_outbox_messages", status="queued") == 2
    assert sample(samples, "nexus_outbox_messages", status="sending") == 1
    assert sample(samples, "nexus_outbox_messages", status="unknown") == 1
    # The oldest row still waiting to go (an `unknown` one is staff's, not the queue's).
    assert 20 * 60 <= sample(samples, "nexus_outbox_oldest_age_seconds") < 21 * 60


def test_an_empty_outbox_is_zero_old(client):
    samples = scrape(client)

    assert sample(samples, "nexus_outbox_oldest_age_seconds") == 0
    assert sample(samples, "nexus_outbox_messages", status="queued") == 0


@celery_app.task(name="tests.metrics_ok")
def _works() -> str:
    return "done"


@celery_app.task(name="tests.metrics_fails")
def _fails() -> None:
    raise RuntimeError("provider down")


def test_celery_task_outcomes_are_counted(client):
    _works.delay()
    _works.delay()
    # As a worker runs it: the error is recorded, not raised to the caller.
    _fails.apply(throw=False)

    samples = scrape(client)

    assert (
        sample(samples, "nexus_celery_tasks_total", task="tests.metrics_ok", outcome="success") == 2
    )
    assert (
        sample(samples, "nexus_celery_tasks_total", task="tests.metrics_fails", outcome="failure")
        == 1
    )


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="the shared counters need Redis (REDIS_URL)"
)
def test_with_redis_every_process_adds_to_one_hash(client):
    client.get("/book/")
    backend = caches["default"]
    redis = backend._cache.get_client()

    stored = redis.hgetall(backend.make_and_validate_key("metrics:nexus_booking_funnel_total"))

    # Another worker or instance reading the same Redis sees this process's count.
    assert stored == {b"directory_search": b"1"}


def test_with_redis_down_requests_still_work_and_metrics_answer(client, settings, monkeypatch):
    from nexus import cache as nexus_cache

    monkeypatch.setattr(nexus_cache, "_down_until", {})
    settings.CACHES = {
        "default": {
            "BACKEND": "nexus.cache.FailOpenRedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # discard: nothing listens
        }
    }

    assert client.get("/book/").status_code == 200
    samples = scrape(client)
    assert sample(samples, "nexus_booking_funnel_total", step="directory_search") == 0


def test_each_request_logs_one_json_line_with_ids_route_status_and_duration(
    client, reception_user, ada, caplog
):
    client.force_login(reception_user)
    with caplog.at_level(logging.INFO, logger="nexus.request"):
        response = client.get(
            "/patients/?q=Zzyzxlovelace&mobile=0412345678", HTTP_X_REQUEST_ID="trace-0123456789"
        )

    (record,) = [r for r in caplog.records if r.name == "nexus.request"]
    line = build_formatter("json").format(record)
    logged = json.loads(line)
    assert response.status_code == 200
    assert logged["event"] == "http.request"
    assert logged["request_id"] == "trace-0123456789" == response["X-Request-ID"]
    assert logged["user_id"] == reception_user.pk
    assert logged["route"] == "patients:index"
    assert logged["method"] == "GET"
    assert logged["status"] == 200
    assert logged["duration_ms"] > 0
    for phi in ("Zzyzxlovelace", "0412345678", "q=", "/patients/"):
        assert phi not in line


def test_a_request_that_never_looked_up_a_user_logs_none_without_a_query(
    client, caplog, django_assert_max_num_queries
):
    with (
        caplog.at_level(logging.INFO, logger="nexus.request"),
        django_assert_max_num_queries(0),
    ):
        client.get("/healthz/")

    (record,) = [r for r in caplog.records if r.name == "nexus.request"]
    assert json.loads(build_formatter("json").format(record))["user_id"] is None


def test_static_files_are_one_route_not_unmatched(client):
    stylesheet = next((settings.BASE_DIR / "static" / "css").glob("*.css")).name
    response = client.get(f"/static/css/{stylesheet}")
    client.get("/static/css/no-such-file.css")
    client.get("/staticky/")

    samples = scrape(client)

    assert response.status_code == 200
    assert (
        sample(samples, "nexus_http_responses_total", route="static", method="GET", status="200")
        == 1
    )
    assert (
        sample(samples, "nexus_http_responses_total", route="static", method="GET", status="404")
        == 1
    )
    assert (
        sample(samples, "nexus_http_responses_total", route="unmatched", method="GET", status="404")
        == 1
    )


def test_an_api_request_logs_the_token_users_id(reception_api, reception_user, ada, caplog):
    with caplog.at_level(logging.INFO, logger="nexus.request"):
        assert reception_api.get(f"/api/v1/patients/{ada.pk}/").status_code == 200

    (record,) = [r for r in caplog.records if r.name == "nexus.request"]
    logged = json.loads(build_formatter("json").format(record))
    assert logged["user_id"] == reception_user.pk
    assert logged["route"] == "patient-detail"
    assert "path" not in logged


def test_a_beat_run_that_expired_in_the_queue_is_counted_as_expired(client):
    from celery.signals import task_revoked

    # What a worker sends for a message past its `expires` (celery/worker/request.py).
    task_revoked.send(sender=_works, request=None, terminated=False, signum=None, expired=True)

    samples = scrape(client)
    assert (
        sample(samples, "nexus_celery_tasks_total", task="tests.metrics_ok", outcome="expired") == 1
    )


def test_request_figures_are_held_in_the_process_and_sent_together(client, monkeypatch):
    from nexus import metrics

    metrics.http_metrics_flush()
    monkeypatch.setattr(metrics, "_flushed_at", float("inf"))  # no flush is due
    for _ in range(3):
        client.get("/healthz/")
    assert caches["default"].get("metrics:nexus_http_responses_total") is None

    samples = scrape(client)

    healthz = {"route": "healthz", "method": "GET"}
    assert sample(samples, "nexus_http_responses_total", **healthz, status="200") == 3
    assert sample(samples, "nexus_http_request_duration_seconds_count", **healthz) == 3
