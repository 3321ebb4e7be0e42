"""audit_read / audit_change: the one way a staff page records what it showed or changed."""

import pytest
from django.test import RequestFactory

from audit.models import AuditEvent
from audit.services import Target, audit_change, audit_read, audit_record
from tests.factories import ClinicalNoteFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def _request(user):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-1")
    request.user = user
    request.request_id = "req-1"
    return request


def test_a_read_of_several_records_is_one_event_listing_them_and_their_patients():
    user = UserFactory()
    ada, bob = PatientFactory(), PatientFactory()
    note = ClinicalNoteFactory(patient=bob, author=user)

    audit_read(request=_request(user), records=[ada, note], view="chart")

    [event] = AuditEvent.objects.all()
    assert (event.action, event.object_type, event.object_id, event.patient_id) == (
        "read",
        "mixed",
        "",
        None,
    )
    assert event.object_ids == [f"patients.patient:{ada.pk}", f"notes.clinicalnote:{note.pk}"]
    assert event.patient_ids == sorted([ada.pk, bob.pk])
    assert (event.actor_id, event.request_id, event.detail) == (user.pk, "req-1", {"view": "chart"})


def test_a_page_of_one_patients_records_names_that_patient():
    user = UserFactory()
    ada = PatientFactory()
    notes = ClinicalNoteFactory.create_batch(3, patient=ada, author=user)

    audit_read(request=_request(user), records=notes, view="chart_notes")

    [event] = AuditEvent.objects.all()
    assert (event.object_type, event.patient_id, event.patient_ids) == (
        "notes.clinicalnote",
        ada.pk,
        [],
    )
    assert event.object_ids == [str(n.pk) for n in notes]


def test_a_single_record_read_has_no_lists():
    ada = PatientFactory()

    audit_read(request=_request(UserFactory()), records=[ada], view="chart")

    [event] = AuditEvent.objects.all()
    assert (event.object_id, event.patient_id) == (str(ada.pk), ada.pk)
    assert (event.object_ids, event.patient_ids) == ([], [])


def test_changes_to_several_records_keep_one_event_each():
    ada, bob = PatientFactory(), PatientFactory()

    audit_record(
        request=_request(UserFactory()),
        action=AuditEvent.Action.DELETE,
        targets=[Target.of(ada, "pk"), Target.of(bob, "pk")],
    )

    assert sorted(AuditEvent.objects.values_list("patient_id", flat=True)) == sorted(
        [ada.pk, bob.pk]
    )


def test_showing_nothing_records_nothing():
    audit_read(request=_request(UserFactory()), records=[], view="calendar")

    assert not AuditEvent.objects.exists()


def test_a_search_is_recorded_as_a_search():
    ada = PatientFactory()

    audit_read(
        request=_request(UserFactory()),
        records=[ada],
        view="patient_search",
        action=AuditEvent.Action.SEARCH,
    )

    assert AuditEvent.objects.get().action == "search"


@pytest.mark.parametrize(("created", "action"), [(True, "create"), (False, "update")])
def test_a_change_records_a_creation_or_an_update(created, action):
    ada = PatientFactory()

    audit_change(request=_request(UserFactory()), record=ada, view="patient_edit", created=created)

    event = AuditEvent.objects.get()
    assert (event.action, event.patient_id, event.detail) == (
        action,
        ada.pk,
        {"view": "patient_edit"},
    )
