import pytest

from clinicians.models import Clinic
from tests.factories import ClinicFactory, ClinicianFactory, DisciplineFactory

pytestmark = pytest.mark.django_db


def test_admin_creates_a_clinic_in_its_time_zone(admin_api):
    response = admin_api.post(
        "/api/v1/clinics/",
        {"name": "Perth", "timezone": "Australia/Perth", "phone": "(08) 9221 0000"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["phone"] == "+61892210000"


def test_an_unknown_time_zone_is_refused(admin_api):
    response = admin_api.post(
        "/api/v1/clinics/", {"name": "Nowhere", "timezone": "Mars/Olympus"}, format="json"
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["errors"]
    assert not Clinic.objects.exists()


def test_reception_cannot_change_clinics(reception_api):
    clinic = ClinicFactory(name="Newtown")

    response = reception_api.patch(f"/api/v1/clinics/{clinic.pk}/", {"name": "Mine"}, format="json")

    assert response.status_code == 403
    assert Clinic.objects.get(pk=clinic.pk).name == "Newtown"


def test_clinicians_filter_by_name_discipline_clinic_and_intake(reception_api):
    podiatry, physio = DisciplineFactory(name="Podiatry"), DisciplineFactory(name="Physiotherapy")
    north, south = ClinicFactory(name="North"), ClinicFactory(name="South")
    ClinicianFactory(
        given_name="Amelia", family_name="Nguyen", disciplines=[podiatry], clinics=[north]
    )
    ClinicianFactory(
        given_name="Priya", family_name="Sharma", disciplines=[physio], clinics=[north, south]
    )
    ClinicianFactory(
        given_name="Liam",
        family_name="Oconnor",
        disciplines=[podiatry, physio],
        clinics=[south],
        accepting_new_patients=False,
    )

    def names(**params):
        response = reception_api.get("/api/v1/clinicians/", params)
        return [c["given_name"] for c in response.json()["results"]]

    assert names(search="sha") == ["Priya"]
    assert names(discipline=podiatry.pk) == ["Amelia", "Liam"]
    assert names(clinic=north.pk) == ["Amelia", "Priya"]
    assert names(clinic=south.pk, accepting_new_patients="true") == ["Priya"]


def test_disciplines_are_listed(reception_api):
    DisciplineFactory(name="Orthotics")

    response = reception_api.get("/api/v1/disciplines/")

    assert [d["name"] for d in response.json()["results"]] == ["Orthotics"]
