from collections.abc import Iterator

import pytest

from tests.fakes.smsbroadcast import FakeSmsBroadcast


@pytest.fixture(scope="session")
def _sms_server() -> Iterator[FakeSmsBroadcast]:
    fake = FakeSmsBroadcast.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_sms(_sms_server, settings) -> FakeSmsBroadcast:
    """SMS Broadcast's fake, emptied, with Nexus's settings pointing at it."""
    _sms_server.reset()
    for name, value in _sms_server.settings().items():
        setattr(settings, name, value)
    return _sms_server
