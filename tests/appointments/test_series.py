"""Repeat bookings through /api/v1/appointment-series/ (issue 20 item 1)."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission

from appointments import series as series_module
from appointments.models import Appointment, AppointmentSeries
from appointments.recurrence import SeriesRule
from appointments.series import appointment_series_book
from audit.models import AuditEvent
from integrations.models import Message
from nexus.errors import PermissionDenied
from tests.conftest import MONDAY, requires_postgres, sydney
from tests.factories import AppointmentFactory, PatientFactory, TimeOffFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointment-series/"


def body(practice, who, **overrides):
    return {
        "patient": who.pk,
        "clinician": practice.clinician.pk,
        "clinic": practice.clinic.pk,
        "appointment_type": practice.consult.pk,
        "start": sydney(MONDAY, 10).isoformat(),
        "rule": {"every_weeks": 1, "count": 6},
        **overrides,
    }


@pytest.fixture
def third_monday_taken(practice):
    """Someone else already has 10:15 on the third Monday of the course."""
    return AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY + timedelta(weeks=2), 10, 15),
    )


@pytest.fixture
def stale_preview(monkeypatch):
    """The preview has not seen a booking that committed after it was read: it calls
    every time free, so only the booking itself can find the clash."""
    real_preview = series_module.series_preview
    monkeypatch.setattr(
        series_module,
        "series_preview",
        lambda **kwargs: [
            series_module.Occurrence(start=o.start, end=o.end, conflict=None)
            for o in real_preview(**kwargs)
        ],
    )


def test_the_preview_lists_six_mondays_and_names_the_one_clash(
    reception_api, practice, patient, third_monday_taken
):
    response = reception_api.post(f"{URL}?preview=1", body(practice, patient), format="json")

    assert response.status_code == 200, response.content
    occurrences = response.json()["occurrences"]
    assert [o["start"] for o in occurrences] == [
        sydney(MONDAY + timedelta(weeks=i), 10).isoformat() for i in range(6)
    ]
    assert [o["conflict"] for o in occurrences] == [
        None,
        None,
        "slot_unavailable",
        None,
        None,
        None,
    ]
    assert AppointmentSeries.objects.count() == 0
    assert Appointment.objects.count() == 1  # only the one already there


def test_booking_without_skip_is_a_409_naming_the_clash_and_books_nothing(
    reception_api, practice, patient, third_monday_taken
):
    response = reception_api.post(URL, body(practice, patient), format="json")

    assert response.status_code == 409
    data = response.json()
    assert data["code"] == "series_conflict"
    assert data["clashes"] == [
        {
            "start": "2032-03-15T10:00:00+11:00",
            "end": "2032-03-15T10:30:00+11:00",
            "conflict": "slot_unavailable",
        }
    ]
    assert AppointmentSeries.objects.count() == 0
    assert Appointment.objects.filter(patient=patient).count() == 0


def test_booking_with_skip_books_the_five_free_mondays(
    reception_api, reception_user, practice, patient, third_monday_taken
):
    response = reception_api.post(URL, body(practice, patient, skip_conflicts=True), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    series = AppointmentSeries.objects.get()
    assert data["id"] == series.pk
    assert data["rule"] == {"every_weeks": 1, "count": 6}
    assert data["rrule"] == "FREQ=WEEKLY;INTERVAL=1;COUNT=6"
    assert [a["start"][:10] for a in data["appointments"]] == [
        "2032-03-01",
        "2032-03-08",
        "2032-03-22",
        "2032-03-29",
        "2032-04-05",
    ]
    assert {a["series"] for a in data["appointments"]} == {series.pk}
    assert data["skipped"] == [
        {"start": "2032-03-14T23:00:00+00:00", "conflict": "slot_unavailable"}
    ]
    booked = Appointment.objects.filter(patient=patient)
    assert booked.count() == 5
    assert {a.created_by for a in booked} == {reception_user}
    assert AuditEvent.objects.filter(
        object_type="appointments.appointmentseries", object_id=str(series.pk)
    ).exists()


@pytest.mark.usefixtures("stale_preview")
def test_a_time_taken_in_the_middle_of_booking_books_none_of_the_series(
    reception_api, practice, patient, third_monday_taken
):
    # When the series is booked
    response = reception_api.post(URL, body(practice, patient, skip_conflicts=True), format="json")

    # Then the booking service refuses the third, and the two before it are undone too
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "series_conflict"
    assert [c["start"] for c in response.json()["clashes"]] == ["2032-03-15T10:00:00+11:00"]
    assert Appointment.objects.filter(patient=patient).count() == 0
    assert AppointmentSeries.objects.count() == 0


def test_local_time_stays_ten_oclock_across_the_end_of_daylight_saving(
    reception_api, practice, patient
):
    # Sydney's clocks go back on Sunday 4 April 2032.
    response = reception_api.post(
        URL,
        body(practice, patient, start=sydney(date(2032, 3, 22), 10).isoformat()),
        format="json",
    )

    assert response.status_code == 201, response.content
    starts = [a["start"] for a in response.json()["appointments"]]
    assert starts == [
        "2032-03-22T10:00:00+11:00",
        "2032-03-29T10:00:00+11:00",
        "2032-04-05T10:00:00+10:00",
        "2032-04-12T10:00:00+10:00",
        "2032-04-19T10:00:00+10:00",
        "2032-04-26T10:00:00+10:00",
    ]


def test_every_two_weeks_until_a_date_reads_back_the_same_rule(reception_api, practice, patient):
    rule = {"every_weeks": 2, "until": "2032-04-12"}

    created = reception_api.post(URL, body(practice, patient, rule=rule), format="json")
    fetched = reception_api.get(f"{URL}{created.json()['id']}/")

    assert created.status_code == 201, created.content
    assert fetched.status_code == 200
    assert fetched.json()["rule"] == rule
    # The last moment of 12 April in Sydney (AEST after the change), in UTC.
    assert fetched.json()["rrule"] == "FREQ=WEEKLY;INTERVAL=2;UNTIL=20320412T135959Z"
    assert [a["start"][:10] for a in fetched.json()["appointments"]] == [
        "2032-03-01",
        "2032-03-15",
        "2032-03-29",
        "2032-04-12",
    ]


def test_time_off_and_evenings_are_told_apart_in_the_preview(reception_api, practice, patient):
    TimeOffFactory(
        clinician=practice.clinician,
        start=sydney(MONDAY + timedelta(weeks=1), 0),
        end=sydney(MONDAY + timedelta(weeks=1), 23),
    )

    day = reception_api.post(f"{URL}?preview=1", body(practice, patient), format="json")
    evening = reception_api.post(
        f"{URL}?preview=1",
        body(practice, patient, start=sydney(MONDAY, 18).isoformat()),
        format="json",
    )

    assert [o["conflict"] for o in day.json()["occurrences"]][:3] == [None, "time_off", None]
    assert {o["conflict"] for o in evening.json()["occurrences"]} == {"outside_working_hours"}


def test_an_override_books_the_evenings(reception_api, practice, patient):
    evening = body(
        practice, patient, start=sydney(MONDAY, 18).isoformat(), override_working_hours=True
    )

    booked = reception_api.post(URL, evening, format="json")

    assert booked.status_code == 201, booked.content
    assert len(booked.json()["appointments"]) == 6


def test_only_staff_who_may_override_can_book_a_series_in_the_evening(practice, patient):
    may_book = UserFactory()
    may_book.user_permissions.add(Permission.objects.get(codename="add_appointment"))

    with pytest.raises(PermissionDenied):
        appointment_series_book(
            patient=patient,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, 18),
            rule=SeriesRule(every_weeks=1, count=2),
            override_working_hours=True,
            created_by=may_book,
        )
    assert Appointment.objects.count() == 0


def test_a_series_of_which_nothing_is_free_is_refused_even_when_skipping(
    reception_api, practice, patient
):
    response = reception_api.post(
        URL,
        body(practice, patient, start=sydney(MONDAY, 18).isoformat(), skip_conflicts=True),
        format="json",
    )

    assert response.status_code == 409
    assert len(response.json()["clashes"]) == 6
    assert AppointmentSeries.objects.count() == 0


def test_one_confirmation_text_goes_out_for_the_whole_series(reception_api, practice):
    texted = PatientFactory(sms_consent=True, phone="+61412345678")

    response = reception_api.post(URL, body(practice, texted), format="json")

    assert response.status_code == 201, response.content
    confirmations = Message.objects.filter(patient=texted, kind=Message.Kind.CONFIRMATION)
    assert [m.appointment.start for m in confirmations] == [sydney(MONDAY, 10)]


def test_cancelling_from_the_fourth_keeps_the_first_three(reception_api, practice, patient):
    created = reception_api.post(URL, body(practice, patient), format="json").json()
    fourth = created["appointments"][3]["start"]

    response = reception_api.post(f"{URL}{created['id']}/cancel/", {"from": fourth}, format="json")

    assert response.status_code == 200, response.content
    statuses = [a["status"] for a in response.json()["appointments"]]
    assert statuses == ["booked"] * 3 + ["cancelled"] * 3
    assert response.json()["cancelled_from"] == fourth
    again = reception_api.post(f"{URL}{created['id']}/cancel/", {"from": fourth}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_an_occurrence_seen_already_keeps_its_status_when_the_rest_is_cancelled(
    reception_api, practice, patient
):
    created = reception_api.post(URL, body(practice, patient), format="json").json()
    first = Appointment.objects.get(pk=created["appointments"][0]["id"])
    first.status = Appointment.Status.COMPLETED
    first.save()

    response = reception_api.post(
        f"{URL}{created['id']}/cancel/", {"from": created["start"]}, format="json"
    )

    assert [a["status"] for a in response.json()["appointments"]] == ["completed"] + [
        "cancelled"
    ] * 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rule": {"every_weeks": 1, "count": 3, "until": "2032-04-01"}}, "rule"),
        ({"rule": {"every_weeks": 1}}, "rule"),
        ({"rule": "weekly"}, "rule"),
        ({"rule": {"every_weeks": 30, "count": 5}}, "rule"),
        ({"rule": {"every_weeks": 0, "count": 3}}, "rule"),
        ({"rule": {"every_weeks": 1, "count": 53}}, "rule"),
        ({"rule": {"every_weeks": 1, "until": "2032-02-01"}}, "rule"),
        ({"rule": {"every_weeks": 1, "until": "2033-06-01"}}, "rule"),
        ({"start": "2032-03-01T10:00:00"}, "start"),
        ({"clinician": 999999}, "clinician"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(reception_api, practice, patient, change, field):
    response = reception_api.post(URL, body(practice, patient, **change), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert AppointmentSeries.objects.count() == 0


def test_a_preview_flag_that_is_not_a_boolean_is_a_400(reception_api, practice, patient):
    response = reception_api.post(f"{URL}?preview=maybe", body(practice, patient), format="json")

    assert response.status_code == 400
    assert "preview" in response.json()["errors"]


def test_an_unknown_series_is_a_404(reception_api):
    assert reception_api.get(f"{URL}999999/").status_code == 404


@requires_postgres
@pytest.mark.usefixtures("stale_preview")
def test_the_database_rule_alone_undoes_the_whole_series_on_postgres(
    reception_api, practice, patient, third_monday_taken, monkeypatch
):
    # Given the service's own clash check blind too, as when a booking commits between the
    # check and the insert: only the exclusion constraint can see it
    monkeypatch.setattr("appointments.services._clashes", lambda **kwargs: False)

    response = reception_api.post(URL, body(practice, patient), format="json")

    assert response.status_code == 409, response.content
    assert [c["start"] for c in response.json()["clashes"]] == ["2032-03-15T10:00:00+11:00"]
    assert Appointment.objects.filter(patient=patient).count() == 0
    assert AppointmentSeries.objects.count() == 0


def test_moving_the_clashing_week_books_all_six(
    reception_api, practice, patient, third_monday_taken
):
    moves = [{"from": "2032-03-15T10:00:00+11:00", "to": "2032-03-16T14:00:00+11:00"}]

    preview = reception_api.post(
        f"{URL}?preview=1", body(practice, patient, moves=moves), format="json"
    )
    booked = reception_api.post(URL, body(practice, patient, moves=moves), format="json")

    assert preview.status_code == 200, preview.content
    assert [o["conflict"] for o in preview.json()["occurrences"]] == [None] * 6
    assert preview.json()["occurrences"][2]["start"] == "2032-03-16T14:00:00+11:00"
    assert booked.status_code == 201, booked.content
    assert [a["start"] for a in booked.json()["appointments"]][1:4] == [
        "2032-03-08T10:00:00+11:00",
        "2032-03-16T14:00:00+11:00",
        "2032-03-22T10:00:00+11:00",
    ]
    assert booked.json()["start"] == "2032-03-01T10:00:00+11:00"


def test_a_week_moved_onto_another_week_of_the_series_is_a_clash(reception_api, practice, patient):
    moves = [{"from": "2032-03-15T10:00:00+11:00", "to": "2032-03-22T10:15:00+11:00"}]

    preview = reception_api.post(
        f"{URL}?preview=1", body(practice, patient, moves=moves), format="json"
    )

    conflicts = [o["conflict"] for o in preview.json()["occurrences"]]
    # 22 March at 10:00 and the week moved to 10:15 that day: each clashes with the other.
    assert conflicts == [None, None, "slot_unavailable", "slot_unavailable", None, None]


@pytest.mark.parametrize(
    "moves",
    [
        [{"from": "2032-03-15T11:00:00+11:00", "to": "2032-03-16T14:00:00+11:00"}],
        [{"from": "2032-03-15T10:00:00+11:00"}],
        [{"from": "2032-03-15T10:00:00", "to": "2032-03-16T14:00:00+11:00"}],
        {"from": "2032-03-15T10:00:00+11:00"},
    ],
)
def test_a_move_that_is_not_of_this_series_or_not_complete_is_a_400(
    reception_api, practice, patient, moves
):
    response = reception_api.post(URL, body(practice, patient, moves=moves), format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["moves"]
    assert all(isinstance(m, str) for m in response.json()["errors"]["moves"])
    assert AppointmentSeries.objects.count() == 0
