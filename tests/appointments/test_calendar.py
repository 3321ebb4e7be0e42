"""The staff calendar: layout, booking from a free time, the clash message, and the
appointment panel's status changes, moves and cancellations."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from appointments.models import Appointment
from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicianFactory,
    PatientFactory,
    TimeOffFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


def calendar(client: Client, practice, **query):
    params = {"clinic": practice.clinic.pk, "date": MONDAY.isoformat(), **query}
    return client.get("/calendar/", params)


def test_the_day_view_places_appointments_hours_and_time_off(desk, practice, patient):
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    TimeOffFactory(clinician=practice.clinician, start=sydney(MONDAY, 13), end=sydney(MONDAY, 14))

    response = calendar(desk, practice)

    assert response.status_code == 200
    page = response.context["page"]
    (column,) = page.columns
    assert [p.appointment.patient_id for p in column.appointments] == [patient.pk]
    assert len(column.hours) == 1 and len(column.time_off) == 1
    # 09:00-17:00 in 15-minute slots, less the 30-minute booking and the hour off.
    assert len(column.free) == 32 - 2 - 4
    assert "Ada Lovelace" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="read", patient=patient, detail__view="calendar"
    ).exists()


def test_the_week_view_for_ten_clinicians_costs_a_fixed_number_of_queries(
    desk, practice, django_assert_max_num_queries
):
    for _ in range(9):
        clinician = ClinicianFactory(clinics=[practice.clinic])
        for weekday in range(5):
            WorkingHoursFactory(clinician=clinician, clinic=practice.clinic, weekday=weekday)
    for i in range(40):
        AppointmentFactory(
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY + timedelta(days=i % 5), 9) + timedelta(minutes=30 * (i // 5)),
        )
    calendar(desk, practice, view="week", clinician="all")  # warm session and permission caches

    with django_assert_max_num_queries(12) as captured:
        response = calendar(desk, practice, view="week", clinician="all")

    assert response.status_code == 200
    # Ten clinicians on the five weekdays they work; the empty weekend is left out.
    assert len(response.context["page"].columns) == 50
    print(f"week view, 10 clinicians, 40 appointments: {len(captured)} queries")


def test_a_full_day_of_three_clinicians_costs_fixed_queries_and_bounded_html(
    desk, practice, django_assert_max_num_queries
):
    """The regression guard for the calendar's cost (issue 16): queries and bytes, not time."""
    clinicians = [practice.clinician]
    for _ in range(2):
        clinician = ClinicianFactory(clinics=[practice.clinic])
        WorkingHoursFactory(clinician=clinician, clinic=practice.clinic, weekday=MONDAY.weekday())
        clinicians.append(clinician)
    for clinician in clinicians:  # 09:00-15:00 booked in half hours, 15:00-17:00 free
        for i in range(12):
            AppointmentFactory(
                clinician=clinician,
                clinic=practice.clinic,
                appointment_type=practice.consult,
                start=sydney(MONDAY, 9) + timedelta(minutes=30 * i),
            )
    calendar(desk, practice, clinician="all")  # warm session and permission caches

    with django_assert_max_num_queries(12) as captured:
        response = calendar(desk, practice, clinician="all")

    assert response.status_code == 200
    page = response.context["page"]
    assert [len(c.appointments) for c in page.columns] == [12, 12, 12]
    assert [len(c.free) for c in page.columns] == [8, 8, 8]
    html = response.content.decode()
    # Links are built once per page, not reversed per cell: they must still be the routes'.
    first = page.columns[0].appointments[0].appointment
    assert f'href="{reverse("appointments:panel", args=[first.pk])}"' in html
    assert f'data-move="{reverse("appointments:move", args=[first.pk])}"' in html
    slot = page.columns[0].free[0]
    assert (
        f'href="{reverse("appointments:book")}?clinic={practice.clinic.pk}&amp;'
        f"clinician={page.columns[0].clinician.pk}&amp;start=2032-03-01T15%3A00%3A00%2B11%3A00"
    ) in html
    assert f">{slot.label}<" in html and slot.label == "3:00"
    assert len(response.content) < 60_000
    print(f"day view, 3 clinicians, 36 appointments: {len(captured)} queries, {len(html)} bytes")


def test_appointment_blocks_show_clinic_time_and_escape_what_people_typed(desk, practice):
    # Given a noon, an afternoon and a morning appointment, with markup in a name, an
    # alert and the type
    kind = AppointmentTypeFactory(name="Review <b>", duration_minutes=30)
    patient = PatientFactory(given_name="<i>Ada</i>", family_name="O'Hara", alerts='"Latex" & co')
    for hour, minute in ((12, 15), (13, 5), (9, 0)):
        AppointmentFactory(
            patient=patient,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=kind,
            start=sydney(MONDAY, hour, minute),
        )

    # When the day is shown
    response = calendar(desk, practice)

    # Then each block reads its start on a 12-hour clock in the clinic's zone
    html = response.content.decode()
    labels = [p.time_label for p in response.context["page"].columns[0].appointments]
    assert labels == ["9:00", "12:15", "1:05"]
    assert "<span>1:05 Review &lt;b&gt;</span>" in html
    # And nothing anyone typed comes out as markup
    assert "&lt;i&gt;Ada&lt;/i&gt; O&#x27;Hara</strong>" in html
    assert 'title="&quot;Latex&quot; &amp; co"' in html
    assert "<i>Ada" not in html and "Review <b>" not in html


def book(client: Client, practice, patient, hour: int, **extra):
    return client.post(
        "/calendar/book/",
        {
            "patient": patient.pk,
            "clinician": practice.clinician.pk,
            "clinic": practice.clinic.pk,
            "appointment_type": practice.consult.pk,
            "date": MONDAY.isoformat(),
            "time": f"{hour:02d}:00",
            **extra,
        },
    )


def test_booking_from_a_free_time_and_the_clash_message(desk, practice, patient):
    form = desk.get(
        "/calendar/book/",
        {
            "clinic": practice.clinic.pk,
            "clinician": practice.clinician.pk,
            "start": sydney(MONDAY, 11).isoformat(),
        },
    )
    assert form.status_code == 200
    assert form.context["form"].initial["time"].hour == 11

    first = book(desk, practice, patient, 11)
    clash = book(desk, practice, PatientFactory(), 11)

    assert first.status_code == 302
    assert "date=2032-03-01" in first["Location"]
    assert Appointment.objects.get().start == sydney(MONDAY, 11)
    assert clash.status_code == 200
    assert "already has an appointment that overlaps" in clash.content.decode()
    assert Appointment.objects.count() == 1


def test_booking_without_a_patient_says_so(desk, practice):
    response = desk.post(
        "/calendar/book/",
        {
            "clinician": practice.clinician.pk,
            "clinic": practice.clinic.pk,
            "appointment_type": practice.consult.pk,
            "date": MONDAY.isoformat(),
            "time": "10:00",
        },
    )
    assert "Find and choose the patient first." in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_panel_moves_an_appointment_through_its_statuses(desk, practice, patient, now_is):
    book(desk, practice, patient, 10)
    appointment = Appointment.objects.get()
    now_is(sydney(MONDAY, 9, 50))  # arrival is offered on the day

    panel = desk.get(f"/calendar/appointments/{appointment.pk}/")
    assert panel.status_code == 200
    assert "Arrived" in panel.content.decode()

    desk.post(f"/calendar/appointments/{appointment.pk}/status/", {"to": "arrived"})
    appointment.refresh_from_db()
    assert appointment.status == "arrived"

    refused = desk.post(f"/calendar/appointments/{appointment.pk}/status/", {"to": "booked"})
    assert "cannot become booked" in refused.content.decode()


def test_cancelling_needs_a_reason(desk, practice, patient):
    book(desk, practice, patient, 10)
    appointment = Appointment.objects.get()

    no_reason = desk.post(f"/calendar/appointments/{appointment.pk}/cancel/", {"reason": ""})
    assert "Say why the appointment is cancelled." in no_reason.content.decode()
    desk.post(f"/calendar/appointments/{appointment.pk}/cancel/", {"reason": "Unwell"})

    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancellation_reason) == ("cancelled", "Unwell")


def test_rescheduling_into_a_clash_is_refused_with_the_reason(desk, practice, patient):
    book(desk, practice, patient, 10)
    book(desk, practice, PatientFactory(), 11)
    first = Appointment.objects.get(start=sydney(MONDAY, 10))

    response = desk.post(
        f"/calendar/appointments/{first.pk}/move/",
        {"clinician": practice.clinician.pk, "date": MONDAY.isoformat(), "time": "11:00"},
    )
    moved = desk.post(
        f"/calendar/appointments/{first.pk}/move/",
        {"clinician": practice.clinician.pk, "date": MONDAY.isoformat(), "time": "14:00"},
    )

    assert "already has an appointment that overlaps" in response.content.decode()
    assert moved.status_code == 302
    first.refresh_from_db()
    assert first.start == sydney(MONDAY, 14)


def test_the_calendar_needs_the_appointments_permission(practice):
    client = Client()
    client.force_login(UserFactory())
    assert calendar(client, practice).status_code == 403
