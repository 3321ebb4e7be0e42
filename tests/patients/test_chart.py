"""The patient chart page: demographics, appointments and documents, audited."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import AuditEvent
from documents.models import Document
from notes.services import note_sign
from patients.chart import chart_changed
from tests.conftest import signed_in
from tests.documents.corpus import pdf
from tests.factories import AppointmentFactory, ClinicalNoteFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db):
    return PatientFactory(given_name="Ada", family_name="Lovelace", alerts="Latex allergy")


def test_the_chart_shows_the_record_and_records_the_look(ada, local_media):
    client = signed_in("clinician")
    soon = timezone.now() + timedelta(days=3)
    AppointmentFactory(patient=ada, start=soon)
    AppointmentFactory(patient=ada, start=soon - timedelta(days=30))
    client.post(
        f"/api/v1/patients/{ada.pk}/documents/",
        {"file": _named(pdf(), "referral.pdf"), "category": "referral"},
    )

    response = client.get(f"/patients/{ada.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Ada Lovelace" in page and "Latex allergy" in page and "referral.pdf" in page
    assert len(response.context["upcoming"]) == len(response.context["past"]) == 1
    assert AuditEvent.objects.filter(action="read", patient=ada, detail__view="chart").count() == 1
    [look] = AuditEvent.objects.filter(action="read", patient=ada, detail__view="chart")
    [document] = Document.objects.filter(patient=ada)
    assert f"documents.document:{document.pk}" in look.object_ids
    assert "no-store" in response["Cache-Control"]


def test_the_chart_costs_a_fixed_number_of_queries(ada, local_media, django_assert_max_num_queries):
    client = signed_in("reception")
    soon = timezone.now() + timedelta(days=3)
    for days in range(8):
        AppointmentFactory(patient=ada, start=soon + timedelta(days=days))
        AppointmentFactory(patient=ada, start=soon - timedelta(days=30 + days))
    client.get(f"/patients/{ada.pk}/")  # warm the session and permission caches

    with django_assert_max_num_queries(CHART_QUERIES):
        assert client.get(f"/patients/{ada.pk}/").status_code == 200


def test_the_chart_lists_the_next_ten_visits_the_cancelled_apart_and_the_last_ten(ada):
    now = timezone.now()
    coming = [AppointmentFactory(patient=ada, start=now + timedelta(days=d)) for d in range(1, 13)]
    called_off = [
        AppointmentFactory(patient=ada, start=now + timedelta(days=d, hours=2), status="cancelled")
        for d in range(1, 13)
    ]
    gone = [
        AppointmentFactory(patient=ada, start=now - timedelta(days=d), status=status)
        for d, status in zip(range(1, 13), ["completed", "cancelled", "no_show"] * 4, strict=True)
    ]
    AppointmentFactory(start=now + timedelta(days=1))  # someone else's

    context = signed_in("reception").get(f"/patients/{ada.pk}/").context

    assert [a["id"] for a in context["upcoming"]] == [a.pk for a in coming[:10]]
    assert [a["id"] for a in context["cancelled"]] == [a.pk for a in called_off[:10]]
    # Newest first, whatever became of them.
    assert [a["id"] for a in context["past"]] == [a.pk for a in gone[:10]]


def test_one_event_records_the_record_and_the_notes_the_chart_showed(ada):
    client = signed_in("clinician")
    author = UserFactory(role="clinician")
    drafts = ClinicalNoteFactory.create_batch(2, patient=ada, author=author)
    notes = [note_sign(note=n, by=author) for n in drafts]
    ClinicalNoteFactory(patient=ada, author=author)  # the author's draft: nobody else sees it

    client.get(f"/patients/{ada.pk}/")

    [look] = AuditEvent.objects.filter(patient=ada)
    assert (look.action, look.detail) == ("read", {"view": "chart"})
    assert sorted(look.object_ids) == sorted(
        [f"patients.patient:{ada.pk}", *(f"notes.clinicalnote:{n.pk}" for n in notes)]
    )


def test_someone_without_a_role_cannot_open_a_chart(ada):
    response = signed_in("").get(f"/patients/{ada.pk}/")
    assert response.status_code == 403
    # Nothing was shown; the refusal is on record.
    assert not AuditEvent.objects.filter(patient=ada, outcome="success").exists()
    assert AuditEvent.objects.filter(patient=ada, outcome="denied").count() == 1


def test_a_missing_patient_is_404():
    assert signed_in("reception").get("/patients/999999/").status_code == 404


def test_the_documents_panel_filters_by_category_and_hides_from_outsiders(ada, local_media):
    client = signed_in("reception")
    client.post(
        f"/api/v1/patients/{ada.pk}/documents/",
        {"file": _named(pdf(), "referral.pdf"), "category": "referral"},
    )

    referrals = client.get(f"/patients/{ada.pk}/documents/?category=referral")
    photos = client.get(f"/patients/{ada.pk}/documents/?category=image")
    outsider = signed_in("").get(f"/patients/{ada.pk}/documents/")

    assert b"referral.pdf" in referrals.content
    assert b"referral.pdf" not in photos.content
    assert outsider.status_code == 404


def _named(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


# A chart with a dozen appointments each way, as measured when this was set (issue 16):
# the patient, notes, documents, one audit event and the three appointment lists in one
# query (the session's user and permissions come from the cache); repeat bookings only for
# a patient who has some.
CHART_QUERIES, CHART_BYTES = 5, 13_000  # 11.0 kB measured


def test_the_chart_costs_the_same_queries_however_long_the_history(
    ada, local_media, django_assert_max_num_queries
):
    client = signed_in("reception")
    soon = timezone.now() + timedelta(days=3)
    AppointmentFactory(patient=ada, start=soon)
    client.get(f"/patients/{ada.pk}/")  # warm the session and permission caches
    chart_changed(patient_id=ada.pk)  # rendered again, as after the appointments below
    with django_assert_max_num_queries(CHART_QUERIES) as few:
        client.get(f"/patients/{ada.pk}/")

    for days in range(1, 13):
        AppointmentFactory(patient=ada, start=soon + timedelta(days=days))
        AppointmentFactory(patient=ada, start=soon - timedelta(days=30 + days))
    with django_assert_max_num_queries(CHART_QUERIES) as many:
        response = client.get(f"/patients/{ada.pk}/")

    assert len(many) == len(few)
    assert len(response.content) <= CHART_BYTES
