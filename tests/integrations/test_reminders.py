"""Reminders about 24 hours ahead: once per appointment, however often or however
concurrently the run happens; never for cancelled appointments or without consent."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.utils import timezone

from appointments.models import Appointment
from integrations.models import Message
from integrations.services import reminders_send
from tests.conftest import requires_postgres
from tests.factories import AppointmentFactory, ClinicFactory, PatientFactory


@pytest.fixture
def due(db):
    clinic = ClinicFactory(name="Hobart", timezone="Australia/Hobart")
    soon = timezone.now() + timedelta(hours=3)
    make = lambda **kw: AppointmentFactory(clinic=clinic, start=soon, **kw)  # noqa: E731
    return {
        "booked": make(patient=PatientFactory(sms_consent=True)),
        "confirmed": make(
            patient=PatientFactory(sms_consent=True), status=Appointment.Status.CONFIRMED
        ),
        "cancelled": make(
            patient=PatientFactory(sms_consent=True), status=Appointment.Status.CANCELLED
        ),
        "no_consent": make(patient=PatientFactory(sms_consent=False)),
        "landline": make(patient=PatientFactory(sms_consent=True, phone="+61362001234")),
        "next_week": AppointmentFactory(
            clinic=clinic,
            patient=PatientFactory(sms_consent=True),
            start=timezone.now() + timedelta(days=7),
        ),
        "past": AppointmentFactory(
            clinic=clinic,
            patient=PatientFactory(sms_consent=True),
            start=timezone.now() - timedelta(hours=1),
        ),
    }


@pytest.mark.django_db
def test_the_run_reminds_booked_and_confirmed_appointments_only(
    due, fake_sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders")

    reminded = set(Message.objects.filter(kind="reminder").values_list("appointment", flat=True))
    assert reminded == {due["booked"].pk, due["confirmed"].pk}
    assert Message.objects.filter(status="sent").count() == 2
    # The clinic's own zone (Hobart), and the reply hint.
    local = due["booked"].start.astimezone(due["booked"].clinic.tz)
    text = next(
        m["message"]
        for m in fake_sms.sent
        if m["ref"] == str(Message.objects.get(appointment=due["booked"]).pk)
    )
    assert f"{local.minute:02d} {'am' if local.hour < 12 else 'pm'}" in text
    assert "Reply YES to confirm or NO to cancel" in text


@pytest.mark.django_db
def test_running_twice_sends_each_reminder_once(due, fake_sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send() == 0

    assert sorted(fake_sms.refs().values()) == [1, 1]
    assert Message.objects.filter(kind="reminder").count() == 2


# The in-memory SQLite test database locks whole tables between threads; the file database
# `make run` uses takes the write lock at BEGIN instead. PostgreSQL shows the real race.
@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once(due, fake_sms):
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            reminders_send()
        except BaseException as error:
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert Message.objects.filter(kind="reminder").count() == 2
    assert sorted(fake_sms.refs().values()) == [1, 1]
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_the_database_refuses_a_second_reminder(due):
    from django.db import IntegrityError, transaction

    Message.objects.create(kind="reminder", to="+61412000000", body="a", appointment=due["booked"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            kind="reminder", to="+61412000000", body="b", appointment=due["booked"]
        )
