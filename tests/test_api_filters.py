"""A list asked for without any of its filters does not build the filter form
(nexus/api/filters.py): the same rows, and every filter still applies when it is asked for."""

import pytest
from django.http import QueryDict

from appointments.api.views import AppointmentFilter
from clinicians.api.views import ClinicianFilter
from nexus.api import filters
from patients.api.views import PatientFilter
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def forms_built(monkeypatch):
    built = []
    get_form_class = filters.FilterSet.get_form_class

    def spy(self):
        built.append(type(self).__name__)
        return get_form_class(self)

    monkeypatch.setattr(filters.FilterSet, "get_form_class", spy)
    return built


def test_an_unfiltered_list_builds_no_form_and_lists_everyone(reception_api, forms_built):
    # given
    PatientFactory(archived=True)
    PatientFactory(archived=False)

    # when
    response = reception_api.get("/api/v1/patients/?page=1&page_size=10")

    # then
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert forms_built == []


def test_a_filter_asked_for_still_applies_and_validates(reception_api, forms_built):
    # given
    PatientFactory(archived=True)
    PatientFactory(archived=False)

    # when
    archived = reception_api.get("/api/v1/patients/?archived=true")
    bad = reception_api.get("/api/v1/patients/?archived=null")

    # then
    assert archived.json()["count"] == 1
    assert bad.status_code == 400
    assert forms_built == ["PatientFilter"]  # the bad value is refused before any form


@pytest.mark.parametrize(
    ("filterset", "query", "asks_nothing"),
    [
        (PatientFilter, "", True),
        (PatientFilter, "page=2&page_size=50", True),
        (PatientFilter, "search=", False),
        (PatientFilter, "home_clinic=3", False),
        (AppointmentFilter, "cursor=abc", True),
        (AppointmentFilter, "start_after=2026-01-01T00:00:00Z", False),
        # Its own `qs` adds a DISTINCT even with no filter asked for.
        (ClinicianFilter, "", False),
    ],
)
def test_which_requests_skip_the_filterset(filterset, query, asks_nothing):
    assert filters._asks_nothing(filterset, QueryDict(query)) is asks_nothing
