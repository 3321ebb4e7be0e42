"""An import killed with SIGKILL at several points and resumed ends identical to one that
was never interrupted (issue 14). The importer runs as a real `manage.py` process, which
the in-memory SQLite test database cannot be shared with: PostgreSQL only."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from documents.models import Document
from integrations.models import ImportRun
from tests.integrations.filemaker.helpers import counts, run_import, snapshot
from tests.integrations.filemaker.test_import import _wipe

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the importer runs in another process, which cannot see in-memory SQLite",
    ),
    pytest.mark.django_db(transaction=True),
]


def _env(fake, tmp_path: Path) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        **fake.env(),
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "AWS_STORAGE_BUCKET_NAME": "",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "1",  # the console e-mail backend is refused otherwise
    }


def _import(
    fake,
    tmp_path: Path,
    *args: str,
    kill_at: int | None = None,
    kill_at_container: int | None = None,
) -> int:
    """Run the command in a process; with `kill_at`, SIGKILL it when it asks FileMaker
    for its kill_at-th page, with `kill_at_container` for its n-th document's bytes (in
    the middle of a documents batch), before the answer reaches it."""
    start, containers = fake.pages, fake.containers
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "import_filemaker", "--batch-size", "40", *args],
        cwd=ROOT,
        env=_env(fake, tmp_path),
        stdout=(tmp_path / "import.log").open("ab"),
        stderr=subprocess.STDOUT,
    )

    def kill(count: int) -> None:
        if kill_at is not None and count - start == kill_at:
            os.kill(process.pid, signal.SIGKILL)

    def kill_fetching(count: int) -> None:
        if kill_at_container is not None and count - containers == kill_at_container:
            os.kill(process.pid, signal.SIGKILL)

    fake.on_page, fake.on_container = kill, kill_fetching
    try:
        return process.wait(timeout=240)
    finally:
        fake.on_page = fake.on_container = None


def test_killed_three_times_and_resumed_ends_as_an_uninterrupted_run(
    fake_filemaker, tmp_path, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    assert _import(fake_filemaker, tmp_path, kill_at=4) == -signal.SIGKILL
    assert ImportRun.objects.get().status == ImportRun.Status.RUNNING
    assert _import(fake_filemaker, tmp_path, "--resume", kill_at=14) == -signal.SIGKILL
    assert _import(fake_filemaker, tmp_path, "--resume", kill_at_container=20) == -signal.SIGKILL
    assert Document.objects.count() == 0  # the documents batch in flight was lost whole
    report_path = tmp_path / "resumed.json"
    assert _import(fake_filemaker, tmp_path, "--resume", "--report", str(report_path)) == 0
    resumed_rows = snapshot()
    resumed = json.loads(report_path.read_text())

    _wipe()
    uninterrupted = run_import(tmp_path, "--batch-size", "40", name="uninterrupted")

    assert snapshot() == resumed_rows
    assert counts(resumed) == counts(uninterrupted)
    for layout, state in resumed["layouts"].items():
        other = uninterrupted["layouts"][layout]
        assert state["rejected_ids"] == other["rejected_ids"], layout
        assert state["merged_ids"] == other["merged_ids"], layout
