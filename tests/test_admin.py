"""Every model in the admin: its list (with search and filters) and a change page render."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import ApiToken
from notes.services import note_sign
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    ClinicalNoteFactory,
    CoordinatorFactory,
    DisciplineFactory,
    DocumentFactory,
    PatientFactory,
    ReferrerFactory,
    TimeOffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)


@pytest.fixture
def demo_admin(client, practice, clinician_user):
    """One row of every model, so list columns and change forms really render."""
    patient = PatientFactory(referrer=ReferrerFactory(), coordinator=CoordinatorFactory())
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    TimeOffFactory(clinician=practice.clinician, start=sydney(MONDAY, 12), end=sydney(MONDAY, 13))
    DisciplineFactory(name="Podiatry")
    note = ClinicalNoteFactory(patient=patient, author=clinician_user)
    note_sign(note=note, by=clinician_user)
    ApiToken.issue(user=clinician_user, name="Integration", scopes=["*:read"])
    DocumentFactory(patient=patient)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_every_domain_model_is_in_the_admin():
    labels = {m._meta.label for m in REGISTERED}

    assert {
        "accounts.User",
        "accounts.ApiToken",
        "clinicians.Clinic",
        "clinicians.Clinician",
        "clinicians.Discipline",
        "clinicians.WorkingHours",
        "clinicians.TimeOff",
        "patients.Patient",
        "patients.Referrer",
        "patients.Coordinator",
        "appointments.AppointmentType",
        "appointments.Appointment",
        "notes.ClinicalNote",
        "documents.Document",
    } <= labels


@pytest.mark.parametrize("model", REGISTERED, ids=[m._meta.label for m in REGISTERED])
def test_admin_pages_render(demo_admin, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    listing = demo_admin.get(changelist)
    searched = demo_admin.get(changelist, {"q": "a"})

    assert listing.status_code == 200
    assert searched.status_code == 200
    first = model._default_manager.order_by("pk").first()
    if first is not None:
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
        assert demo_admin.get(change).status_code == 200


def test_signed_notes_are_read_only_in_the_admin(demo_admin):
    from notes.models import ClinicalNote

    note = ClinicalNote.objects.filter(status="signed").first()
    url = reverse("admin:notes_clinicalnote_change", args=[note.pk])

    response = demo_admin.post(url, {"body": "tampered"})

    assert response.status_code == 403
    note.refresh_from_db()
    assert note.body != "tampered"
