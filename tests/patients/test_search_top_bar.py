"""Patient search from the top bar of every staff page: by name, phone, date of birth or
Medicare number."""

from datetime import date

import pytest

from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_every_staff_page_has_the_patient_search_in_its_top_bar(desk):
    for path in ("/", "/patients/", "/patients/new/"):
        page = desk.get(path).content.decode()
        assert 'role="search" method="get" action="/patients/"' in page, path
        assert 'id="topbar-q" type="search" name="q"' in page, path


def test_a_date_of_birth_finds_the_patient_in_australian_or_iso_order(desk):
    ada = PatientFactory(given_name="Ada", family_name="Lovelace", date_of_birth=date(1985, 12, 10))
    PatientFactory(given_name="Grace", family_name="Hopper", date_of_birth=date(1985, 10, 12))

    for term in ("10/12/1985", "10-12-1985", "1985-12-10", " 10.12.1985 "):
        response = desk.get("/patients/", {"q": term})
        assert [p.pk for p in response.context["patients"]] == [ada.pk], term


def test_name_phone_and_medicare_still_work_from_the_top_bar(desk):
    ada = PatientFactory(
        given_name="Ada", family_name="Lovelace", phone="0412 345 678", medicare_number="2123456701"
    )
    for term in ("lovelace", "0412 345 678", "2123456701"):
        response = desk.get("/patients/", {"q": term})
        assert [p.pk for p in response.context["patients"]] == [ada.pk], term
