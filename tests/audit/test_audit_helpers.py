"""audit_read / audit_change: the one way a staff page records what it showed or changed."""

import pytest
from django.test import RequestFactory

from audit.models import AuditEvent
from audit.services import audit_change, audit_read
from tests.factories import ClinicalNoteFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def _request(user):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-1")
    request.user = user
    request.request_id = "req-1"
    return request


def test_a_read_records_one_event_per_record_with_its_patient():
    user = UserFactory()
    ada, bob = PatientFactory(), PatientFactory()
    note = ClinicalNoteFactory(patient=bob, author=user)

    audit_read(request=_request(user), records=[ada, note], view="chart")

    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.object_type, e.object_id, e.patient_id) for e in events] == [
        ("read", "patients.patient", str(ada.pk), ada.pk),
        ("read", "notes.clinicalnote", str(note.pk), bob.pk),
    ]
    assert {(e.actor_id, e.request_id, tuple(e.detail.items())) for e in events} == {
        (user.pk, "req-1", (("view", "chart"),))
    }


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
