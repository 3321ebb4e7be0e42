import pytest

from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    WorkingHoursFactory,
)


@pytest.fixture
def listed(db):
    clinic = ClinicFactory(name="Parramatta", timezone="Australia/Sydney")
    clinician = ClinicianFactory(
        clinics=[clinic], listed_publicly=True, given_name="Mei", family_name="Wang"
    )
    for weekday in range(7):
        WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=weekday)
    consult = AppointmentTypeFactory(
        name="Initial consult", duration_minutes=60, bookable_online=True
    )
    AppointmentTypeFactory(name="Internal review", duration_minutes=30, bookable_online=False)
    ClinicianFactory(
        clinics=[clinic], listed_publicly=False, given_name="Hidden", family_name="Person"
    )
    return clinician, clinic, consult
