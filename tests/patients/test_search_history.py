"""The patient search lives in the address, so Back returns to it, and a capped list says so
(issue 10.12)."""

import pytest

from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_the_search_box_pushes_q_into_the_address(desk):
    page = desk.get("/patients/").content.decode()

    assert 'hx-push-url="true"' in page


def test_back_to_a_search_address_renders_the_whole_page_with_its_results(desk):
    PatientFactory(given_name="Ada", family_name="Lovelace")

    opened = desk.get("/patients/", {"q": "love"})  # typed in the address bar, or reloaded
    restored = desk.get(
        "/patients/",
        {"q": "love"},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )

    for response in (opened, restored):
        page = response.content.decode()
        assert "<!DOCTYPE html>" in page and 'value="love"' in page and "Lovelace" in page


def test_more_matches_than_shown_asks_to_refine(desk):
    for _ in range(26):
        PatientFactory(family_name="Nguyen")

    response = desk.get("/patients/", {"q": "nguyen"}, headers={"HX-Request": "true"})

    assert len(response.context["patients"]) == 25
    assert "More than 25 patients match “nguyen”" in response.content.decode()


def test_exactly_the_cap_does_not_ask_to_refine(desk):
    for _ in range(25):
        PatientFactory(family_name="Nguyen")

    response = desk.get("/patients/", {"q": "nguyen"}, headers={"HX-Request": "true"})

    assert len(response.context["patients"]) == 25
    assert "Refine the search" not in response.content.decode()
