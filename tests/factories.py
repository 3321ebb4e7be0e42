from datetime import time

import factory
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Group

from accounts.access_audit import audited_by_caller
from accounts.models import User
from appointments.models import Appointment, AppointmentType
from clinicians.models import Clinic, Clinician, Discipline, TimeOff, WorkingHours
from documents.models import Document
from notes.models import ClinicalNote
from patients.models import Coordinator, Patient, Referrer


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@nexus.test")
    full_name = factory.Faker("name", locale="en_AU")
    password = factory.django.Password("correct-horse-battery")

    # A test's cast of users is its setting, not a change to who may do what: their
    # creation leaves no access-change events in the trail the test then reads.
    @classmethod
    def _create(cls, model_class: type[User], *args: object, **kwargs: object) -> User:
        with audited_by_caller():
            return super()._create(model_class, *args, **kwargs)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            with audited_by_caller():
                self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def totp(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        """Enrol a TOTP factor: by default for users who must have one (as they would have
        before seeing anything); `totp=False` leaves them unenrolled, `totp=True` forces it."""
        from accounts.services import mfa_required

        if create and (extracted if extracted is not None else mfa_required(self)):
            TOTP.activate(self, generate_totp_secret())


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Clinic {n}")
    timezone = "Australia/Sydney"


class DisciplineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discipline
        django_get_or_create = ["name"]

    name = factory.Iterator(["Podiatry", "Orthotics", "Physiotherapy"])


class ClinicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinician
        skip_postgeneration_save = True

    given_name = factory.Faker("first_name", locale="en_AU")
    family_name = factory.Faker("last_name", locale="en_AU")
    listed_publicly = True

    @factory.post_generation
    def clinics(self, create: bool, extracted: list[Clinic] | None, **kwargs: object) -> None:
        if create and extracted:
            self.clinics.set(extracted)

    @factory.post_generation
    def disciplines(self, create: bool, extracted: list[Discipline] | None, **kw: object) -> None:
        if create and extracted:
            self.disciplines.set(extracted)


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    clinician = factory.SubFactory(ClinicianFactory)
    clinic = factory.SubFactory(ClinicFactory)
    weekday = 0
    start_time = time(9, 0)
    end_time = time(17, 0)


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    clinician = factory.SubFactory(ClinicianFactory)


class ReferrerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referrer

    name = factory.Faker("name", locale="en_AU")
    practice_name = "Harbour Medical Centre"


class CoordinatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coordinator

    name = factory.Faker("name", locale="en_AU")
    organisation = "Careways"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    given_name = factory.Faker("first_name", locale="en_AU")
    family_name = factory.Faker("last_name", locale="en_AU")
    phone = factory.Sequence(lambda n: f"+6141{n:07d}")
    email = factory.Sequence(lambda n: f"patient{n}@example.com")


class AppointmentTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppointmentType
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Consultation {n}")
    duration_minutes = 30


class AppointmentFactory(factory.django.DjangoModelFactory):
    """Inserts directly; tests of booking rules call the services instead."""

    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(ClinicianFactory)
    clinic = factory.SubFactory(ClinicFactory)
    appointment_type = factory.SubFactory(AppointmentTypeFactory)
    end = factory.LazyAttribute(lambda o: o.start + o.appointment_type.duration)


class ClinicalNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicalNote

    patient = factory.SubFactory(PatientFactory)
    author = factory.SubFactory(UserFactory, role="clinician")
    body = "S: sore heel. O: tender. A: plantar fasciitis. P: stretches."


class DocumentFactory(factory.django.DjangoModelFactory):
    """A document row whose bytes are not stored: for admin and listing tests. Tests of
    uploads and downloads go through the upload API instead."""

    class Meta:
        model = Document

    patient = factory.SubFactory(PatientFactory)
    category = Document.Category.REFERRAL
    file = factory.Sequence(lambda n: f"patients/0/{n:032x}")
    original_name = "referral.pdf"
    content_type = "application/pdf"
    size = 1024
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    uploaded_by = factory.SubFactory(UserFactory)
