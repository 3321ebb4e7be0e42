"""Addresses are Australian: a state from the list, a 4-digit postcode, and the chart shows
whatever parts were entered (issue 10.11)."""

import pytest

from patients.models import Patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_a_made_up_state_or_postcode_is_refused_with_a_reason(register_at_desk):
    response = register_at_desk(suburb="Parramatta", state="ZZ", postcode="AB1")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice. ZZ is not one of the available choices." in page
    assert "An Australian postcode has 4 digits." in page
    assert not Patient.objects.exists()


def test_the_state_is_chosen_from_the_eight_states_and_territories(desk, register_at_desk):
    form = desk.get("/patients/new/").content.decode()

    for state in ("ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA"):
        assert f'<option value="{state}">' in form
    assert register_at_desk(suburb="Parramatta", state="NSW", postcode="2150").status_code == 302
    assert Patient.objects.get().postcode == "2150"


def test_the_chart_shows_suburb_state_and_postcode_without_a_street_line(desk):
    patient = PatientFactory(address="", suburb="Parramatta", state="NSW", postcode="2150")

    page = desk.get(f"/patients/{patient.pk}/").content.decode()

    assert "<dd>Parramatta NSW 2150</dd>" in page


def test_the_chart_shows_a_full_address_on_one_line(desk):
    patient = PatientFactory(address="12 Smith St", suburb="Perth", state="WA", postcode="6000")

    page = desk.get(f"/patients/{patient.pk}/").content.decode()

    assert "<dd>12 Smith St, Perth WA 6000</dd>" in page


def test_the_ndis_number_is_labelled_ndis(desk):
    form = desk.get("/patients/new/").content.decode()

    assert "NDIS number" in form and "Ndis number" not in form
