"""Reception's waitlist page: lists, add, remove, settings; audited, clinic time zone."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import ClinicFactory, UserFactory
from tests.waitlist.conftest import waiting
from waitlist.models import WaitlistEntry, WaitlistOffer, WaitlistSettings

pytestmark = pytest.mark.django_db


def test_the_page_lists_waiting_patients_and_offers_in_the_clinics_zone(desk, practice):
    perth = ClinicFactory(name="Perth", timezone="Australia/Perth")
    practice.clinician.clinics.add(perth)
    entry = waiting(practice, clinics=[perth], notes="prefers mornings")
    WaitlistOffer.objects.create(
        entry=entry,
        clinician=practice.clinician,
        clinic=perth,
        start=sydney(MONDAY, 12),  # 9:00 AM in Perth
        end=sydney(MONDAY, 12, 30),
        expires_at=timezone.now() + timedelta(minutes=30),
    )

    response = desk.get("/waitlist/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"{entry.patient.given_name} {entry.patient.family_name}" in html
    assert "Mon 1 Mar, 9:00 AM" in html
    assert "prefers mornings" in html
    assert "/calendar/book/?" in html and f"patient={entry.patient_id}" in html
    assert AuditEvent.objects.filter(
        action="read", patient_id=entry.patient_id, detail__view="waitlist"
    ).exists()


def test_reception_adds_a_patient_by_the_form(desk, practice, patient):
    response = desk.post(
        "/waitlist/add/",
        {
            "patient": patient.pk,
            "clinician": practice.clinician.pk,
            "clinics": [practice.clinic.pk],
            "appointment_type": practice.consult.pk,
            "days": ["0", "3"],
            "earliest": "09:00",
            "latest": "13:00",
            "urgency": "2",
        },
    )

    assert response.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.days, entry.urgency) == (patient, [0, 3], 2)
    assert AuditEvent.objects.filter(action="create", patient_id=patient.pk).exists()


def test_bad_form_input_is_a_400_page_with_the_reason(desk, practice, patient):
    response = desk.post(
        "/waitlist/add/",
        {
            "patient": patient.pk,
            "clinics": [practice.clinic.pk],
            "appointment_type": practice.consult.pk,
            "days": ["9"],
            "earliest": "nonsense",
            "latest": "13:00",
            "urgency": "2",
        },
    )

    assert response.status_code == 400
    assert "Choose a clinician" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_remove_takes_the_patient_off(desk, practice):
    entry = waiting(practice)

    assert desk.post(f"/waitlist/{entry.pk}/remove/").status_code == 302

    entry.refresh_from_db()
    assert entry.status == "removed"


def test_only_a_practice_admin_changes_how_times_are_offered(desk, practice):
    body = {"offer_mode": "first_n", "offer_batch": "3", "offer_expiry_minutes": "20"}
    assert desk.post("/waitlist/settings/", body).status_code == 403

    admin = Client()
    admin.force_login(UserFactory(role="practice_admin"))
    assert admin.post("/waitlist/settings/", body).status_code == 302

    settings_row = WaitlistSettings.objects.get()
    assert (settings_row.per_time, settings_row.offer_expiry_minutes) == (3, 20)


def test_strangers_cannot_see_the_waitlist(client):
    client.force_login(UserFactory())

    assert client.get("/waitlist/").status_code == 403
