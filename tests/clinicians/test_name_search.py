"""One clinician name search (issue 11 item 11): the staff API and the public booking
directory match names the same way, through clinicians.selectors.clinician_search."""

import pytest
from django.test import Client

from clinicians.models import Clinician
from clinicians.selectors import clinician_search
from tests.factories import ClinicianFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> None:
    ClinicianFactory(given_name="Priya", family_name="Sharma")
    ClinicianFactory(given_name="Mei", family_name="Wang")
    ClinicianFactory(given_name="Sharon", family_name="Oconnor")


def _selected(term: str) -> list[str]:
    found = clinician_search(Clinician.objects.order_by("given_name"), term)
    return [c.given_name for c in found]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("sha", ["Priya", "Sharon"]),  # a given or a family name may start with it
        ("pri sha", ["Priya"]),  # every word must match
        ("SHARMA", ["Priya"]),
        ("arm", []),  # the middle of a name is not a match
        ("", ["Mei", "Priya", "Sharon"]),
        ("mei wang w zz", ["Mei"]),  # words past the third are ignored
    ],
)
def test_each_word_starts_a_given_or_family_name(team, term, expected):
    assert _selected(term) == expected


@pytest.mark.parametrize("term", ["sha", "pri sha", "arm", "wang"])
def test_the_api_and_the_public_directory_find_the_same_clinicians(team, reception_api, term):
    api = reception_api.get("/api/v1/clinicians/", {"search": term}).json()["results"]
    directory = Client().get("/book/", {"q": term}).context["listing"]

    expected = sorted(_selected(term))
    assert sorted(c["given_name"] for c in api) == expected
    shown = Clinician.objects.filter(pk__in=[card.pk for card, _ in directory])
    assert sorted(shown.values_list("given_name", flat=True)) == expected
