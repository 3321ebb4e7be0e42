"""Phone numbers are stored in E.164 and shown in Australian national format."""

import pytest

from nexus.templatetags.phones import phone_national
from patients.models import Patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+61412345678", "0412 345 678"),
        ("+61298765432", "02 9876 5432"),
        ("+61892345678", "08 9234 5678"),
        ("+611300123456", "1300 123 456"),
        ("+442079460958", "+44 20 7946 0958"),
        ("", ""),
    ],
)
def test_numbers_are_written_the_australian_way(stored, shown):
    assert phone_national(stored) == shown


def test_the_chart_search_and_edit_form_show_the_national_format(desk):
    patient = PatientFactory(given_name="Ada", family_name="Lovelace", phone="+61412345678")

    chart = desk.get(f"/patients/{patient.pk}/").content.decode()
    search = desk.get("/patients/", {"q": "Lovelace"}).content.decode()
    edit = desk.get(f"/patients/{patient.pk}/edit/").content.decode()

    assert "<dd>0412 345 678</dd>" in chart and "+61412345678" not in chart
    assert "0412 345 678" in search and "+61412345678" not in search
    assert 'value="0412 345 678"' in edit


def test_a_number_typed_nationally_is_still_stored_in_e164(desk):
    patient = PatientFactory(phone="+61412345678")
    form = desk.get(f"/patients/{patient.pk}/edit/")
    data = {
        k: v
        for k, v in form.context["form"].initial.items()
        if v is not None and not hasattr(v, "pk")
    }
    data |= {"phone": "0498 765 432", "funding_type": "private", "sex": "not_stated"}

    response = desk.post(f"/patients/{patient.pk}/edit/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert str(Patient.objects.get(pk=patient.pk).phone) == "+61498765432"


@pytest.mark.parametrize(
    "stored", ["+61412345678", "+61298765432", "+61255501234", "+611300123456", "+442079460958"]
)
def test_a_number_loaded_from_the_database_is_shown_as_its_stored_text_is(stored):
    patient = PatientFactory(phone=stored)
    loaded = Patient.objects.get(pk=patient.pk).phone

    assert phone_national(loaded) == phone_national(str(loaded)) == phone_national(stored)
