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


def test_drf_throttles_key_an_untrusted_peer_on_its_own_address(behind_a_balancer, rf):
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    from nexus.api.throttling import AnonThrottle

    direct = Request(rf.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=SPOOF))
    proxied = Request(rf.get("/", REMOTE_ADDR="10.0.3.4", HTTP_X_FORWARDED_FOR=SPOOF))

    assert AnonThrottle().get_ident(direct) == "203.0.113.9"
    assert AnonThrottle().get_ident(proxied) == SPOOF
    # Every throttle the API uses counts the same way (DRF's own believes any peer).
    for throttle in api_settings.DEFAULT_THROTTLE_CLASSES:
        assert throttle().get_ident(direct) == "203.0.113.9", throttle


def test_views_that_choose_their_throttles_use_the_trusted_address():
    from documents.api.views import DocumentViewSet
    from patients.api.views import PatientViewSet

    for view in (PatientViewSet, DocumentViewSet):
        for throttle in view.throttle_classes:
            assert throttle.get_ident.__module__ == "nexus.api.throttling", (view, throttle)


def _failed_sign_ins(peer: str) -> list[bool]:
    """Twelve wrong passwords for different accounts, each with a new X-Forwarded-For;
    whether allauth answered each with its too-many-attempts refusal."""
    client = Client(REMOTE_ADDR=peer)
    return [
        b"Too many failed login attempts"
        in client.post(
            "/accounts/login/",
            {"login": f"nobody{i}@example.com", "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        ).content
        for i in range(12)
    ]


def test_allauths_sign_in_limit_cannot_be_dodged_with_a_spoofed_header(behind_a_balancer):
    # allauth allows 10 failed sign-ins a minute per address; a client reaching the app
    # directly and writing a new X-Forwarded-For each time still has one address.
    limited = _failed_sign_ins("203.0.113.9")

    assert limited[:10] == [False] * 10
    assert limited[10:] == [True, True]


def test_through_the_balancer_each_client_has_its_own_sign_in_limit(behind_a_balancer):
    assert _failed_sign_ins("10.0.3.4") == [False] * 12
