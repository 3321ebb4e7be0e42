"""X-Forwarded-For counts only when it came through a trusted proxy (issue 15 item 5):
a client that reaches the app some other way cannot pick the address the rate limits,
the lockout and the audit trail record."""

import pytest
from django.test import Client, RequestFactory

from audit.models import AuditEvent
from nexus import ratelimit
from nexus.client import client_ip
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

SPOOF = "198.51.100.77"


@pytest.fixture
def behind_a_balancer(settings):
    settings.NEXUS_TRUSTED_PROXY_COUNT = 1
    settings.NEXUS_TRUSTED_PROXIES = ["10.0.0.0/8"]


def test_the_header_counts_only_from_the_balancers_network(behind_a_balancer):
    factory = RequestFactory()
    through_balancer = factory.get("/", REMOTE_ADDR="10.0.3.4", HTTP_X_FORWARDED_FOR=SPOOF)
    direct = factory.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=SPOOF)

    assert client_ip(through_balancer) == SPOOF
    assert client_ip(direct) == "203.0.113.9"


def test_an_untrusted_peer_cannot_choose_the_audit_ip(behind_a_balancer):
    user = UserFactory(role="reception")
    patient = PatientFactory()
    client = Client(REMOTE_ADDR="203.0.113.9")
    client.force_login(user)

    response = client.get(
        f"/api/v1/patients/{patient.pk}/", HTTP_X_FORWARDED_FOR=SPOOF, secure=True
    )

    assert response.status_code == 200
    event = AuditEvent.objects.filter(object_id=str(patient.pk)).latest("id")
    assert event.ip == "203.0.113.9"


def test_an_untrusted_peer_cannot_reset_its_rate_limit(behind_a_balancer, rf):
    keys = []
    for i in range(3):
        request = rf.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
        keys.append(client_ip(request))
    request = rf.get("/", REMOTE_ADDR="10.0.3.4", HTTP_X_FORWARDED_FOR="192.0.2.1")

    assert set(keys) == {"203.0.113.9"}, "one budget, whatever the header says"
    assert client_ip(request) == "192.0.2.1"
    assert ratelimit.client_ip is client_ip


def settings_under(monkeypatch, **environ: str):
    """nexus/settings.py evaluated afresh under the given environment."""
    import importlib.util
    from pathlib import Path

    from django.conf import settings as django_settings

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    path = Path(django_settings.BASE_DIR) / "nexus" / "settings.py"
    spec = importlib.util.spec_from_file_location("nexus_settings_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_proxy_ssl_header_is_believed_only_with_a_trusted_proxy(monkeypatch):
    alone = settings_under(monkeypatch, DJANGO_HTTPS="true", NEXUS_TRUSTED_PROXY_COUNT="0")
    proxied = settings_under(monkeypatch, DJANGO_HTTPS="true", NEXUS_TRUSTED_PROXY_COUNT="1")

    assert alone.SECURE_PROXY_SSL_HEADER is None
    assert proxied.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
