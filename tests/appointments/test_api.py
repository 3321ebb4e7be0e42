import pytest

from accounts.roles import CLINICIAN, PRACTICE_ADMIN, RECEPTION
from appointments.api.serializers import LIST_COLUMNS
from appointments.models import Appointment
from appointments.selectors import appointment_list, appointment_list_rows
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


def body(practice, who, **overrides):
    return {
        "patient": who.pk,
        "clinician": practice.clinician.pk,
        "clinic": practice.clinic.pk,
        "appointment_type": practice.consult.pk,
        "start": sydney(MONDAY, 10).isoformat(),
        **overrides,
    }


def test_booking_answers_201_with_clinic_local_times(
    reception_api, reception_user, practice, patient
):
    response = reception_api.post(URL, body(practice, patient), format="json")

    assert response.status_code == 201
    data = response.json()
    assert data["start"] == "2032-03-01T10:00:00+11:00"
    assert data["end"] == "2032-03-01T10:30:00+11:00"
    assert data["status"] == "booked"
    assert data["patient_name"] == "Ada Lovelace"
    assert Appointment.objects.get().created_by == reception_user


def test_a_clash_answers_409_slot_unavailable(reception_api, practice, patient):
    reception_api.post(URL, body(practice, patient), format="json")

    response = reception_api.post(
        URL,
        body(practice, PatientFactory(), start=sydney(MONDAY, 10, 15).isoformat()),
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    assert Appointment.objects.count() == 1


def test_outside_hours_is_a_clear_400_until_overridden(reception_api, practice, patient):
    evening = body(practice, patient, start=sydney(MONDAY, 19).isoformat())

    refused = reception_api.post(URL, evening, format="json")
    accepted = reception_api.post(URL, {**evening, "override_working_hours": True}, format="json")

    assert refused.status_code == 400
    assert refused.json()["code"] == "outside_working_hours"
    assert accepted.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": "2032-03-01T10:00:00"}, "start"),  # no UTC offset
        ({"start": "tomorrow at ten"}, "start"),
        ({"patient": 999999}, "patient"),
        ({"clinician": "abc"}, "clinician"),
        ({"appointment_type": None}, "appointment_type"),
        ({"end": "2032-03-01T09:00:00+11:00"}, "end"),  # before the start
    ],
)
def test_bad_bookings_get_field_errors_and_store_nothing(
    reception_api, practice, patient, overrides, field
):
    response = reception_api.post(URL, body(practice, patient, **overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Appointment.objects.count() == 0


def test_malformed_json_is_a_400_not_a_500(reception_api):
    response = reception_api.generic("POST", URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_transitions_through_the_api(reception_api, practice, patient, now_is):
    appointment_id = reception_api.post(URL, body(practice, patient), format="json").json()["id"]
    now_is(sydney(MONDAY, 9, 50))  # arrival is marked on the day

    for action, status in [
        ("confirm", "confirmed"),
        ("arrive", "arrived"),
        ("complete", "completed"),
    ]:
        response = reception_api.post(f"{URL}{appointment_id}/{action}/")
        assert response.status_code == 200
        assert response.json()["status"] == status


def test_an_invalid_transition_is_a_409_and_changes_nothing(reception_api, practice, patient):
    appointment_id = reception_api.post(URL, body(practice, patient), format="json").json()["id"]

    response = reception_api.post(f"{URL}{appointment_id}/complete/")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Appointment.objects.get().status == "booked"


def test_cancel_needs_a_reason_and_then_frees_the_slot(reception_api, practice, patient):
    appointment_id = reception_api.post(URL, body(practice, patient), format="json").json()["id"]

    missing = reception_api.post(f"{URL}{appointment_id}/cancel/", {}, format="json")
    cancelled = reception_api.post(
        f"{URL}{appointment_id}/cancel/", {"reason": "Patient unwell"}, format="json"
    )
    rebooked = reception_api.post(URL, body(practice, PatientFactory()), format="json")

    assert missing.status_code == 400
    assert cancelled.json()["cancellation_reason"] == "Patient unwell"
    assert rebooked.status_code == 201


def test_no_show_action(reception_api, practice, patient, now_is):
    appointment_id = reception_api.post(URL, body(practice, patient), format="json").json()["id"]
    now_is(sydney(MONDAY, 10, 20))  # a no-show is marked after the start

    response = reception_api.post(f"{URL}{appointment_id}/no-show/")

    assert response.json()["status"] == "no_show"


def test_patch_reschedules_and_edits_notes(reception_api, practice, patient):
    appointment_id = reception_api.post(URL, body(practice, patient), format="json").json()["id"]

    response = reception_api.patch(
        f"{URL}{appointment_id}/",
        {"start": sydney(MONDAY, 14).isoformat(), "notes": "Bring orthotics"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["start"] == "2032-03-01T14:00:00+11:00"
    assert response.json()["notes"] == "Bring orthotics"


def test_patch_cannot_change_status_directly(reception_api, practice, patient):
    appointment_id = reception_api.post(URL, body(practice, patient), format="json").json()["id"]

    reception_api.patch(f"{URL}{appointment_id}/", {"status": "completed"}, format="json")

    assert Appointment.objects.get().status == "booked"


def test_unknown_appointment_is_404(reception_api, db):
    response = reception_api.post(f"{URL}424242/confirm/")

    assert response.status_code == 404
    assert response.json() == {
        "detail": "No Appointment matches the given query.",
        "code": "not_found",
    }


def test_list_filters_by_clinician_status_and_time(reception_api, practice, patient):
    for hour in (9, 11, 13):
        AppointmentFactory(
            patient=patient,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, hour),
        )
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 15),
        status="cancelled",
    )

    response = reception_api.get(
        URL,
        {
            "clinician": practice.clinician.pk,
            "status": "booked",
            "start_after": sydney(MONDAY, 10).isoformat(),
            "start_before": sydney(MONDAY, 14).isoformat(),
        },
    )

    assert [a["start"][11:16] for a in response.json()["results"]] == ["11:00", "13:00"]


def test_list_uses_cursor_pagination_capped_at_100(reception_api, practice, patient):
    for i in range(3):
        AppointmentFactory(
            patient=patient,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, 9 + i),
        )

    first = reception_api.get(URL, {"page_size": 2}).json()
    second = reception_api.get(first["next"]).json()
    huge = reception_api.get(URL, {"page_size": 100000})

    assert set(first) == {"next", "previous", "results"}
    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
    assert huge.status_code == 200


def test_the_list_rows_are_the_appointment_list_every_user_sees():
    # appointment_list_rows sets its query up once for everyone: that is only right while
    # appointment_list is the same query whoever asks.
    for role in (RECEPTION, CLINICIAN, PRACTICE_ADMIN):
        user = UserFactory(role=role)
        rows = appointment_list_rows(user=user, columns=LIST_COLUMNS)
        expected = appointment_list(user=user).values(*LIST_COLUMNS)
        assert str(rows.query) == str(expected.query)
