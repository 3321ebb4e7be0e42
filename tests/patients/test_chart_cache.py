"""The chart's body is cached per patient (patients/chart.py): served again only while
nothing it shows has changed, to users allowed to see the same things, and every view is
audited, served from the cache or not."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from appointments.services import appointment_cancel
from audit.models import AuditEvent
from documents.services import document_delete
from notes.services import note_create, note_sign
from patients.chart import CHART_PERMISSIONS, chart_changed
from patients.models import Patient
from patients.selectors import patient_list
from patients.services import patient_update
from tests.conftest import signed_in
from tests.factories import (
    AppointmentFactory,
    ClinicalNoteFactory,
    DocumentFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TOKEN = re.compile(rb'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')


@pytest.fixture
def ada(db):
    return PatientFactory(given_name="Ada", family_name="Lovelace")


def _page(client, patient) -> bytes:
    response = client.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    return response.content


def test_a_second_view_is_served_from_the_cache_byte_for_byte_and_audited_again(
    ada, django_assert_num_queries
):
    client = signed_in("reception")
    AppointmentFactory(patient=ada, start=timezone.now() + timedelta(days=3))
    DocumentFactory(patient=ada)
    first = _page(client, ada)

    with django_assert_num_queries(1):  # the audit event, nothing else
        again = _page(client, ada)

    assert TOKEN.sub(b"", again) == TOKEN.sub(b"", first)
    looks = AuditEvent.objects.filter(action="read", detail__view="chart", patient=ada)
    assert looks.count() == 2
    assert looks[0].object_ids == looks[1].object_ids != []


def test_the_upload_form_carries_this_requests_csrf_token(ada):
    one = signed_in("reception")
    other = signed_in("reception", enforce_csrf_checks=True)
    _page(one, ada)

    page = _page(other, ada).decode()

    [in_form] = re.findall(r'data-upload.*?csrfmiddlewaretoken" value="([^"]+)"', page, re.DOTALL)
    assert "\x00" not in page
    upload = f"/api/v1/patients/{ada.pk}/documents/"
    # Accepted as this browser's token (the upload then wants a file), where a wrong one is not.
    assert other.post(upload, {"csrfmiddlewaretoken": in_form}).status_code == 400
    assert other.post(upload, {"csrfmiddlewaretoken": "x" * len(in_form)}).status_code == 403


def test_a_change_to_the_record_shows_on_the_very_next_view(ada):
    client = signed_in("reception")
    _page(client, ada)

    patient_update(patient=ada, alerts="Latex allergy")

    assert b"Latex allergy" in _page(client, ada)


def test_a_booking_and_a_cancellation_show_on_the_very_next_view(ada):
    client = signed_in("reception")
    _page(client, ada)
    booked = AppointmentFactory(patient=ada, start=timezone.now() + timedelta(days=2))

    assert b"No upcoming appointments." not in _page(client, ada)

    appointment_cancel(appointment=booked, reason="Unwell", notify=False)
    page = _page(client, ada)
    assert b"<h3>Cancelled</h3>" in page and b"No upcoming appointments." in page


def test_an_appointment_moved_to_another_patient_leaves_the_first_chart(ada):
    client = signed_in("reception")
    grace = PatientFactory()
    visit = AppointmentFactory(patient=ada, start=timezone.now() + timedelta(days=2))
    assert b"No upcoming appointments." not in _page(client, ada)
    _page(client, grace)

    visit.patient = grace
    visit.save()

    assert b"No upcoming appointments." in _page(client, ada)
    assert b"No upcoming appointments." not in _page(client, grace)


def test_notes_and_documents_show_and_go_on_the_very_next_view(ada):
    client = signed_in("clinician")
    author = UserFactory(role="clinician")
    document = DocumentFactory(patient=ada, original_name="scan.pdf")
    assert b"scan.pdf" in _page(client, ada)

    note_sign(
        note=note_create(patient=ada, author=author, title="Knee review", body="S: O: A: P:"),
        by=author,
    )
    document_delete(document=document, deleted_by=author)

    page = _page(client, ada)
    assert b"Knee review" in page and b"scan.pdf" not in page


def test_a_renamed_clinician_shows_on_every_chart_at_once(ada):
    client = signed_in("reception")
    visit = AppointmentFactory(patient=ada, start=timezone.now() + timedelta(days=2))
    _page(client, ada)

    visit.clinician.family_name = "Hopper"
    visit.clinician.save()

    assert b"Hopper" in _page(client, ada)


def test_a_visit_that_has_started_moves_to_past_without_a_write(ada, monkeypatch):
    client = signed_in("reception")
    soon = timezone.now() + timedelta(minutes=5)
    visit = AppointmentFactory(patient=ada, start=soon)
    assert [a["id"] for a in client.get(f"/patients/{ada.pk}/").context["upcoming"]] == [visit.pk]

    later = soon + timedelta(minutes=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    response = client.get(f"/patients/{ada.pk}/")

    assert response.context["upcoming"] == []
    assert [a["id"] for a in response.context["past"]] == [visit.pk]


def test_each_sees_what_their_permissions_allow_whoever_looked_first(ada):
    author = UserFactory(role="clinician")
    note_sign(
        note=ClinicalNoteFactory(patient=ada, author=author, title="Private words"), by=author
    )
    desk, clinician = signed_in("reception"), signed_in("clinician")

    assert b"Private words" not in _page(desk, ada)
    assert b"Private words" in _page(clinician, ada)
    assert b"Private words" not in _page(desk, ada)


def test_a_draft_is_shown_to_its_author_only_whoever_looked_first(ada):
    author = UserFactory(role="clinician")
    ClinicalNoteFactory(patient=ada, author=author, title="Half written")
    colleague, mine = signed_in("clinician"), signed_in(author)

    assert b"Half written" not in _page(colleague, ada)
    assert b"Half written" in _page(mine, ada)
    assert b"Half written" not in _page(colleague, ada)
    assert b"Half written" in _page(mine, ada)


def test_a_bulk_write_that_says_so_retires_every_chart(ada):
    client = signed_in("reception")
    _page(client, ada)

    chart_changed()

    response = client.get(f"/patients/{ada.pk}/")
    assert "upcoming" in response.context  # rendered again, not served from the cache


def test_every_permission_the_body_asks_about_is_in_the_key():
    from pathlib import Path

    import patients

    templates = Path(patients.__file__).parent / "templates" / "patients"
    asked = set()
    for name in ("_chart.html", "_appointments.html"):
        asked |= set(re.findall(r"perms\.(\w+\.\w+)", (templates / name).read_text()))
    assert asked and asked <= set(CHART_PERMISSIONS)


def test_who_may_open_a_chart_is_only_the_permission_so_the_key_need_not_name_the_user():
    # A cached body skips patient_list(user=...): were it to narrow by user, this fails.
    desk, clinician = UserFactory(role="reception"), UserFactory(role="clinician")
    assert str(patient_list(user=desk).query) == str(patient_list(user=clinician).query)
    assert str(patient_list(user=desk).query) == str(Patient.objects.all().query)
