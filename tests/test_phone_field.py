"""Stored Australian numbers load without a parse, as the very object a parse gives."""

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumber_field.phonenumber import PhoneNumber

from nexus.api.serializers import _as_phone
from nexus.fields import PhoneNumberField
from tests.factories import PatientFactory

field = PhoneNumberField()

# Landlines and mobiles: a national number starting 2-9, the form the field loads directly.
national_numbers = st.integers(min_value=200_000_000, max_value=999_999_999).map(str)
# Starting with 1: 13/1300/1800 numbers and carrier prefixes (1831…), which the library
# rewrites as it parses (+61183100001 becomes +6100001), so they must take its path.
other_numbers = st.integers(min_value=100_000_000, max_value=199_999_999).map(str)


def parsed(value: str) -> PhoneNumber:
    return PhoneNumber.from_string(value)


@given(national=national_numbers)
def test_a_stored_australian_number_loads_as_the_library_would_parse_it(national):
    value = f"+61{national}"

    loaded = field.from_db_value(value, None, None)

    assert loaded == parsed(value)
    assert phonenumbers.PhoneNumber.__eq__(loaded, parsed(value))  # every attribute
    assert loaded.as_e164 == value
    assert loaded.is_valid() == parsed(value).is_valid()


@given(national=other_numbers)
def test_numbers_starting_with_1_load_exactly_as_the_library_parses_them(national):
    value = f"+61{national}"

    loaded = field.from_db_value(value, None, None)

    assert phonenumbers.PhoneNumber.__eq__(loaded, parsed(value))


@pytest.mark.parametrize(
    "value",
    [
        "+61130012345",
        "+611800123456",
        "+6418001234",
        "+12025550143",
        "+44 20 7946 0958",
        "+61\u0664\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # not ASCII digits
    ],
)
def test_other_numbers_take_the_librarys_path(value):
    loaded = field.from_db_value(value, None, None)

    assert phonenumbers.PhoneNumber.__eq__(loaded, parsed(value))


@pytest.mark.parametrize("value", [None, ""])
def test_empty_values_stay_empty(value):
    assert field.from_db_value(value, None, None) == value


@pytest.mark.django_db
def test_a_patient_round_trips_through_the_database():
    patient = PatientFactory(phone="0412 345 678", emergency_contact_phone="(02) 9876 5432")

    patient.refresh_from_db()

    assert patient.phone.as_e164 == "+61412345678"
    assert patient.emergency_contact_phone.as_national == "(02) 9876 5432"


@given(
    value=st.one_of(
        national_numbers.map(lambda n: f"+61{n}"),
        other_numbers.map(lambda n: f"+61{n}"),
        st.sampled_from(
            ["", "+12025550143", "+44 20 7946 0958", "12345", "not a number", "+61\u0664" * 3]
        ),
    )
)
def test_a_number_prints_the_same_from_its_stored_text_as_loaded(value):
    # A list page prints the text stored without loading it (patients.selectors
    # patient_rows_page): the same output, character for character.
    assert _as_phone(value) == _as_phone(field.from_db_value(value, None, None))
