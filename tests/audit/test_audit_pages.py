"""The staff pages over the trail: who accessed a record, and what someone did."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.conftest import signed_in
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_an_admin_sees_who_accessed_a_record_and_that_look_is_recorded(
    admin_browser, admin_user, reception_api, reception_user
):
    patient = PatientFactory(given_name="Grace", family_name="Hopper")
    other = PatientFactory()
    reception_api.get(f"/api/v1/patients/{patient.pk}/")
    reception_api.get(f"/api/v1/patients/{other.pk}/")

    response = admin_browser.get(f"/audit/patients/{patient.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Grace Hopper" in page
    assert str(reception_user) in page
    events = response.context["page"].events
    assert {e.patient_id for e in events} == {patient.pk}
    assert AuditEvent.objects.filter(
        action="read", patient=patient, actor=admin_user, detail__view="access_log"
    ).exists()


def test_the_access_page_lists_pages_that_showed_the_patient_among_others(
    admin_browser, reception_api, reception_user
):
    # Given reception listed all patients (one event), then read another patient alone
    patient, other, unseen = PatientFactory.create_batch(3)
    reception_api.get("/api/v1/patients/")
    reception_api.get(f"/api/v1/patients/{other.pk}/")

    # When an admin opens the patient's access history
    response = admin_browser.get(f"/audit/patients/{patient.pk}/")

    # Then it shows the list read, and not the other patient's own read
    [listed] = [e for e in response.context["page"].events if e.actor_id == reception_user.pk]
    assert listed.patient_ids == sorted([patient.pk, other.pk, unseen.pk])
    assert "(3 shown)" in response.content.decode()


def test_an_admin_sees_one_persons_activity(admin_browser, reception_api, reception_user):
    patient = PatientFactory()
    reception_api.get(f"/api/v1/patients/{patient.pk}/")
    UserFactory()

    response = admin_browser.get(f"/audit/?actor={reception_user.pk}")

    assert response.status_code == 200
    events = response.context["page"].events
    assert events and {e.actor_id for e in events} == {reception_user.pk}


def test_the_activity_page_costs_a_fixed_number_of_queries(
    admin_browser, reception_api, django_assert_max_num_queries
):
    # Session, user, permissions, staff list, events (actors and patient names joined),
    # audit of the page, and one INSERT recording that it showed those patients' names.
    for patient in PatientFactory.create_batch(20):
        reception_api.get(f"/api/v1/patients/{patient.pk}/")

    with django_assert_max_num_queries(11):
        response = admin_browser.get("/audit/")

    assert len(response.context["page"].events) == 21  # 20 reads and the admin's sign-in


@pytest.mark.parametrize("role", ["reception", "clinician"])
def test_other_roles_cannot_open_the_audit_pages(role):
    patient = PatientFactory()
    client = signed_in(role)

    assert client.get("/audit/").status_code == 403
    assert client.get(f"/audit/patients/{patient.pk}/").status_code == 403
    # Nothing was shown; the refusals are on record.
    assert not AuditEvent.objects.filter(patient=patient, outcome="success").exists()
    assert AuditEvent.objects.filter(patient=patient, outcome="denied").count() == 1
