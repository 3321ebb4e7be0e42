"""The Django admin shows superusers no patient name it does not record a read of: its
"Recent actions" panel and the audit trail's admin pages name patients by id only
(issue 12)."""

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import RequestFactory

from audit.models import AuditEvent
from audit.services import Target, audit_record
from patients.models import Patient
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def test_recent_actions_name_a_changed_patient_by_id_only(superuser_client):
    # Given a superuser who changed a patient in the admin
    patient = PatientFactory(given_name="Ada", family_name="Lovelace")
    request = RequestFactory().post("/admin/")
    request.user = superuser_client.user
    admin.site._registry[Patient].log_change(request, patient, [{"changed": {"fields": ["x"]}}])

    # When they open the admin index
    page = superuser_client.get("/admin/").content.decode()

    # Then the panel links the change as "Patient #id", without the name
    entry = LogEntry.objects.get()
    assert entry.action_flag == CHANGE
    assert entry.object_repr == f"Patient #{patient.pk}"
    assert f"Patient #{patient.pk}" in page
    assert "Lovelace" not in page


def test_the_admin_audit_pages_show_the_patient_by_id_not_name(superuser_client):
    # Given an event about a patient's record
    patient = PatientFactory(given_name="Ada", family_name="Lovelace")
    request = RequestFactory().get("/patients/")
    request.user = UserFactory()
    audit_record(request=request, action=AuditEvent.Action.READ, targets=[Target.of(patient, "pk")])
    event = AuditEvent.objects.get(patient=patient)

    # When a superuser lists the trail and opens the event
    listing = superuser_client.get("/admin/audit/auditevent/")
    detail = superuser_client.get(f"/admin/audit/auditevent/{event.pk}/change/")

    # Then both answer, and neither names the patient
    assert listing.status_code == 200 and detail.status_code == 200
    for page in (listing.content.decode(), detail.content.decode()):
        assert "Lovelace" not in page
    assert f">{patient.pk}<" in detail.content.decode()
