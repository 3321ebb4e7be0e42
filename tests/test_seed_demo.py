from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import User
from appointments.models import Appointment
from clinicians.models import Clinic, Clinician
from notes.models import ClinicalNote
from patients.models import Patient

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (Clinic, Clinician, Patient, Appointment, ClinicalNote, User)
    )


def test_seed_demo_builds_a_practice_and_prints_the_logins():
    output = seed()

    assert Clinic.objects.count() == 3
    assert {c.timezone for c in Clinic.objects.all()} >= {"Australia/Sydney", "Australia/Perth"}
    assert Clinician.objects.count() >= 5
    assert Patient.objects.count() == 200
    assert Appointment.objects.filter(status="booked").exists()
    assert Appointment.objects.filter(status="completed").exists()
    assert ClinicalNote.objects.filter(status="signed").exists()
    for email in ("admin@nexus.test", "amelia@nexus.test", "reception@nexus.test"):
        assert email in output
        assert User.objects.get(email=email).check_password("nexus-demo-2026")


def test_running_it_twice_changes_nothing():
    seed()
    before = counts()

    seed()

    assert counts() == before


def test_signed_demo_notes_verify():
    seed()

    for note in ClinicalNote.objects.filter(status="signed"):
        assert note.content_sha256 == note.compute_sha256()


def test_larger_sizes_reach_their_targets():
    seed(patients=300, appointments=3000)

    assert Patient.objects.count() == 300
    assert Appointment.objects.count() == 3000


def test_it_refuses_to_run_without_debug():
    with pytest.raises(CommandError, match="known passwords"):
        call_command("seed_demo", stdout=StringIO())
