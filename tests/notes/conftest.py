from collections.abc import Iterator

import pytest

from notes.models import AiSettings
from tests.fakes.openai import FakeOpenAI


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_openai(_openai_server, settings, db) -> FakeOpenAI:
    """OpenAI's fake, emptied, with Nexus's settings pointing at it (quick retries), and
    the practice's agreement recorded and drafting turned on."""
    AiSettings.objects.update_or_create(
        pk=1, defaults={"drafting_enabled": True, "agreement_signed": True}
    )
    _openai_server.reset()
    for name, value in _openai_server.settings().items():
        setattr(settings, name, value)
    settings.NEXUS_AI_TIMEOUT_S = 2.0
    settings.NEXUS_AI_MAX_RETRIES = 2
    return _openai_server
