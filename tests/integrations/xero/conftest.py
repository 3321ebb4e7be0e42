from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import OAuthConnection
from integrations.oauth import TokenSet
from integrations.xero import limiter
from integrations.xero.services import xero_connect
from tests.factories import UserFactory
from tests.fakes.xero import FakeXero


@pytest.fixture(scope="session")
def _xero_server() -> Iterator[FakeXero]:
    fake = FakeXero.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_xero(_xero_server, settings, monkeypatch) -> FakeXero:
    """Xero's fake, emptied, with Nexus's settings pointing at it. Nexus's rate limiter and
    the fake share one virtual clock: the 1.2 s between calls pass without real waiting."""
    _xero_server.reset()
    for name, value in _xero_server.settings().items():
        setattr(settings, name, value)
    clock = limiter.VirtualClock()
    monkeypatch.setattr(limiter, "clock", clock)
    _xero_server.clock = clock.now
    return _xero_server


@pytest.fixture
def xero_connected(fake_xero, db) -> OAuthConnection:
    """The practice connected to the fake's one organisation."""
    tenant = fake_xero.tenants[0]
    return xero_connect(
        tokens=TokenSet.from_response(fake_xero.issue_tokens()),
        tenant_id=tenant.tenant_id,
        tenant_name=tenant.name,
        grant_id=tenant.connection_id,
        user=UserFactory(role="practice_admin"),
    )


def expire_access_token(connection: OAuthConnection) -> None:
    OAuthConnection.objects.filter(pk=connection.pk).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )
