"""The staff patient list: search as you type, audited per patient shown, at a fixed cost."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import signed_in
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk() -> Client:
    return signed_in("reception", headers={"HX-Request": "true"})


def test_typing_finds_patients_by_name_phone_or_medicare(desk):
    ada = PatientFactory(given_name="Ada", family_name="Lovelace", phone="0412 345 678")
    PatientFactory(given_name="Grace", family_name="Hopper")

    for term in ("love", "0412345678", "ada lov"):
        response = desk.get("/patients/", {"q": term})
        assert [p.pk for p in response.context["patients"]] == [ada.pk], term

    shown = AuditEvent.objects.filter(action="search", detail__view="patient_search")
    assert set(shown.values_list("patient_id", flat=True)) == {ada.pk}
    assert not shown.filter(detail__has_key="q").exists()  # the typed text is never kept


def test_search_costs_the_same_for_3_or_25_matches(desk):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert desk.get("/patients/", {"q": "ada"}).status_code == 200
        return len(ctx)

    desk.get("/patients/", {"q": "nobody"})  # warm the session and permission caches
    PatientFactory.create_batch(3, given_name="Ada")
    few = queries()
    PatientFactory.create_batch(40, given_name="Ada")

    # The user, their permissions (user and group), the page of patients, one audit insert.
    assert queries() == few <= 5


def test_each_result_links_to_its_chart(desk):
    adas = PatientFactory.create_batch(2, given_name="Ada")

    page = desk.get("/patients/", {"q": "ada"}).content.decode()

    for ada in adas:
        assert f'<a href="{reverse("patients:chart", args=[ada.pk])}">' in page
