"""One validator per rule (issue 11 item 9): the date of birth, Medicare, NDIS and DVA rules
live once in patients/validators.py, on the model fields, and every path that writes a
patient applies them the same way: the services, the API, the staff form, the public booking
form and a bulk load such as the FileMaker import."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from booking.forms import PatientDetailsForm
from nexus.errors import ValidationFailed
from patients.models import Patient
from patients.services import patient_register, patient_update
from patients.validators import (
    normalise_dva_number,
    validate_date_of_birth,
    validate_dva_number,
)
from tests.factories import PatientFactory

URL = "/api/v1/patients/"


# --- The rules themselves ----------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "NX123456",  # NSW, war code X, six digits
        "QSS12345A",  # Queensland, two-letter war code, a dependant's segment letter
        "VBUR1234",  # three-letter war code, four digits
        "N 123456",  # First World War: no war code, written as a blank
        "WX5",  # an old file with a short number (Services Australia's claiming rules)
        "TX123456B",
        "SCGW1234",
    ],
)
def test_real_dva_file_numbers_pass(number):
    validate_dva_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "ZZZZ",  # the value the review found accepted
        "AX123456",  # A is no state code
        "NX1234567",  # war code and digits make more than seven characters
        "NXYZW1234",  # four letters of war code
        "NX",  # no digits
        "NX123456AB",  # two segment letters
        "N X123456",  # a blank war code is followed by digits only
        "123456",
        "nx123456",  # stored in capitals: the field normalises before validating
    ],
)
def test_anything_else_is_not_a_dva_file_number(number):
    with pytest.raises(ValidationError) as refused:
        validate_dva_number(number)

    assert refused.value.code == "invalid_dva_number"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("nx 123 456", "NX123456"),
        ("QSS-12345-a", "QSS12345A"),
        ("N123456", "N 123456"),
        ("  n 123456 ", "N 123456"),
    ],
)
def test_dva_numbers_are_stored_in_one_form(typed, stored):
    assert normalise_dva_number(typed) == stored


def test_the_date_of_birth_bounds_are_1900_to_today():
    today = timezone.localdate()
    validate_date_of_birth(today)
    validate_date_of_birth(date(1900, 1, 1))

    for wrong in (today + timedelta(days=1), date(1899, 12, 31)):
        with pytest.raises(ValidationError) as refused:
            validate_date_of_birth(wrong)
        assert refused.value.code == "invalid_date_of_birth"


# --- Services: nexus.errors, never Django's ValidationError --------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dva_number", "ZZZZ"),
        ("medicare_number", "2123456711"),
        ("ndis_number", "123456789"),
        ("date_of_birth", date(1899, 12, 31)),
        ("date_of_birth", timezone.localdate() + timedelta(days=1)),
    ],
)
def test_register_refuses_a_broken_rule_with_a_field_error(field, value):
    with pytest.raises(ValidationFailed) as refused:
        patient_register(
            created_by=None, given_name="Ada", family_name="Lovelace", **{field: value}
        )

    assert list(refused.value.errors) == [field]
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_register_stores_numbers_in_their_one_form():
    patient = patient_register(
        created_by=None,
        given_name="Ada",
        family_name="Lovelace",
        medicare_number="2123 45670 1",
        ndis_number="430-000-001",
        dva_number="qss 12345 a",
    )

    patient.refresh_from_db()
    assert (patient.medicare_number, patient.ndis_number, patient.dva_number) == (
        "2123456701",
        "430000001",
        "QSS12345A",
    )


@pytest.mark.django_db
def test_update_refuses_a_broken_rule_and_names_every_field():
    patient = PatientFactory()

    with pytest.raises(ValidationFailed) as refused:
        patient_update(patient=patient, dva_number="ZZZZ", medicare_number="1")

    assert sorted(refused.value.errors) == ["dva_number", "medicare_number"]
    patient.refresh_from_db()
    assert patient.dva_number == ""


@pytest.mark.django_db
def test_an_old_value_todays_rules_refuse_does_not_block_an_unrelated_update():
    # Records written before the DVA rule (or imported) may hold "ZZZZ"; an SMS opt-out
    # must still be saved.
    patient = PatientFactory(sms_consent=True)
    Patient.objects.filter(pk=patient.pk).update(dva_number="ZZZZ")
    patient.refresh_from_db()

    patient_update(patient=patient, sms_consent=False)

    patient.refresh_from_db()
    assert patient.sms_consent is False


@pytest.mark.django_db
def test_a_bulk_load_stores_numbers_normalised():
    # The FileMaker export has "MedicareNo (may contain spaces)": bulk_create, with no
    # form or serializer in front, still stores the one form.
    Patient.objects.bulk_create(
        [
            Patient(
                given_name="Ada",
                family_name="Lovelace",
                medicare_number="2123 4567 01",
                dva_number="nx123456",
            )
        ]
    )

    stored = Patient.objects.get()
    assert (stored.medicare_number, stored.dva_number) == ("2123456701", "NX123456")


# --- The API: 400 in the JSON error shape, with the field named ---------------------------


@pytest.mark.django_db
def test_the_api_refuses_a_made_up_dva_number(reception_api):
    response = reception_api.post(
        URL,
        {"given_name": "Ada", "family_name": "Lovelace", "dva_number": "ZZZZ"},
        format="json",
    )

    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "invalid_dva_number"
    assert list(body["errors"]) == ["dva_number"]
    assert "state letter" in body["errors"]["dva_number"][0]
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_the_api_names_every_broken_field_at_once(reception_api):
    response = reception_api.post(
        URL,
        {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "dva_number": "ZZZZ",
            "medicare_number": "2123456711",
            "date_of_birth": "1899-12-31",
        },
        format="json",
    )

    assert response.status_code == 400
    assert sorted(response.json()["errors"]) == ["date_of_birth", "dva_number", "medicare_number"]


@pytest.mark.django_db
def test_the_api_stores_a_typed_dva_number_in_its_one_form(reception_api):
    response = reception_api.post(
        URL,
        {"given_name": "Ada", "family_name": "Lovelace", "dva_number": "vx 123 456"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["dva_number"] == "VX123456"


@pytest.mark.django_db
def test_the_api_patch_refuses_a_date_of_birth_before_1900(reception_api):
    patient = PatientFactory(date_of_birth=date(1950, 1, 1))

    response = reception_api.patch(
        f"{URL}{patient.pk}/", {"date_of_birth": "1899-06-01"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["date_of_birth"]
    patient.refresh_from_db()
    assert patient.date_of_birth == date(1950, 1, 1)


# --- The staff form: the message beside the field --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("dva_number", "ZZZZ", "Enter the DVA file number as on the card"),
        ("date_of_birth", "1899-12-31", "cannot be in the future or before 1900"),
        ("medicare_number", "2123 45671 1", "fails its check digit"),
    ],
)
def test_the_staff_form_shows_each_rule(register_at_desk, field, typed, message):
    response = register_at_desk(**{field: typed})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_the_staff_form_takes_numbers_typed_with_spaces(register_at_desk):
    response = register_at_desk(medicare_number="2123 45670 1", dva_number="nx 123456")

    assert response.status_code == 302
    stored = Patient.objects.get()
    assert (stored.medicare_number, stored.dva_number) == ("2123456701", "NX123456")


# --- The public booking form: the same date of birth bounds --------------------------------


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [
        ("23/06/1985", True),
        ("01/01/1900", True),
        ("31/12/1899", False),
        ((timezone.localdate() + timedelta(days=1)).strftime("%d/%m/%Y"), False),
    ],
)
def test_the_booking_form_uses_the_same_date_of_birth_bounds(typed, accepted):
    form = PatientDetailsForm(
        {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "date_of_birth": typed,
            "phone": "0412 345 678",
            "consent": "on",
        }
    )

    assert form.is_valid() is accepted
    if not accepted:
        assert "cannot be in the future or before 1900" in form.errors["date_of_birth"][0]
