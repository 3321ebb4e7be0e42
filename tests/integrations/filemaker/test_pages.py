"""The Imports page under /setup/imports/: practice admins only; start, progress, report."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from integrations.models import ImportRun
from patients.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_only_practice_admins_see_the_imports_page(reception_user, clinician_user, admin_client):
    for user in (reception_user, clinician_user):
        client = Client()
        client.force_login(user)
        assert client.get(reverse("setup_imports:index")).status_code == 403
        assert client.post(reverse("setup_imports:start")).status_code == 403
    page = admin_client.get(reverse("setup_imports:index"))
    assert page.status_code == 200
    assert b"Start import" in page.content


def test_an_admin_starts_an_import_follows_it_and_downloads_the_report(
    admin_client, admin_user, fake_filemaker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("setup_imports:start"), {"source": "data-api"})

    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "setup_imports:detail", args=[run.pk]
    )
    # Celery runs tasks in-process in tests: the import is done.
    assert run.status == ImportRun.Status.FINISHED and run.balanced is True
    assert run.started_by == admin_user
    started = AuditEvent.objects.get(  # the run's batches are CREATE events of their own
        action=AuditEvent.Action.CREATE, detail__view="import_start"
    )
    assert started.object_type == "integrations.importrun"
    assert started.object_id == str(run.pk) and started.patient_id is None
    assert started.detail == {"view": "import_start", "source": "data-api"}
    assert Patient.objects.count() == run.report["layouts"]["Clients"]["imported"]

    detail = admin_client.get(reverse("setup_imports:detail", args=[run.pk]))
    assert b"Every layout adds up" in detail.content
    partial = admin_client.get(
        reverse("setup_imports:detail", args=[run.pk]), headers={"HX-Request": "true"}
    )
    assert b"<html" not in partial.content and b"import-progress" in partial.content
    assert b"hx-trigger" not in partial.content  # finished: polling stops

    report = admin_client.get(reverse("setup_imports:report_json", args=[run.pk]))
    assert report["Content-Disposition"].startswith("attachment")
    assert json.loads(report.content)["layouts"]["Clinics"]["found_count"] == 4
    csv = admin_client.get(reverse("setup_imports:report_csv", args=[run.pk])).content.decode()
    assert csv.splitlines()[0] == "layout,outcome,reason,legacy_id"
    assert "Documents,rejected,missing_bytes,DC0000002" in csv
    assert (
        AuditEvent.objects.filter(
            action=AuditEvent.Action.EXPORT, object_type="integrations.importrun"
        ).count()
        == 2
    )


def test_a_running_import_polls_for_progress(admin_client):
    run = ImportRun.objects.create(source="data-api")
    partial = admin_client.get(
        reverse("setup_imports:detail", args=[run.pk]), headers={"HX-Request": "true"}
    )
    assert b'hx-trigger="every 2s"' in partial.content
    assert admin_client.get(reverse("setup_imports:report_json", args=[run.pk])).status_code == 409
    # One at a time.
    admin_client.post(reverse("setup_imports:start"), {"source": "data-api"})
    assert ImportRun.objects.count() == 1


def test_without_a_connection_the_page_says_what_to_set(admin_client, monkeypatch):
    for name in ("FILEMAKER_URL", "FILEMAKER_DATABASE", "FILEMAKER_USERNAME", "FILEMAKER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    response = admin_client.post(
        reverse("setup_imports:start"), {"source": "data-api"}, follow=True
    )
    assert b"FILEMAKER_URL" in response.content
    assert not ImportRun.objects.exists()
    assert admin_client.post(reverse("setup_imports:start"), {"source": "ftp"}).status_code == 400
