from collections.abc import Iterator

import pytest

from tests.fakes.filemaker import FakeFileMaker, Practice, generate_practice


@pytest.fixture(scope="session")
def fm_practice() -> Practice:
    return generate_practice()


@pytest.fixture(scope="session")
def _filemaker_server(fm_practice: Practice) -> Iterator[FakeFileMaker]:
    fake = FakeFileMaker.start(fm_practice, odata_page=50)
    yield fake
    fake.stop()


@pytest.fixture
def fake_filemaker(
    _filemaker_server: FakeFileMaker, monkeypatch, settings, tmp_path
) -> FakeFileMaker:
    """The fake FileMaker with FILEMAKER_* pointing at it, and documents stored in tmp."""
    _filemaker_server.on_page = None
    for name, value in _filemaker_server.env().items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return _filemaker_server
