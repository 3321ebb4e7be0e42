from collections.abc import Iterator

import pytest

from tests.fakes.openai import FakeOpenAI


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_openai(_openai_server, settings) -> FakeOpenAI:
    """OpenAI's fake, emptied, with Nexus's settings pointing at it (quick retries)."""
    _openai_server.reset()
    for name, value in _openai_server.settings().items():
        setattr(settings, name, value)
    settings.NEXUS_AI_TIMEOUT_S = 2.0
    settings.NEXUS_AI_MAX_RETRIES = 2
    return _openai_server
