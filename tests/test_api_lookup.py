"""A detail read by id compiles its SQL once (nexus/api/lookup.py): the same object, the same
404s, and a queryset that narrows what may be read is never bypassed."""

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from nexus.api import lookup
from patients.models import Patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_the_default_queryset_reads_the_same_object_with_one_query():
    # given
    patient = PatientFactory(phone="+61412345678")
    expected = Patient.objects.get(pk=patient.pk)

    # when
    with CaptureQueriesContext(connection) as queries:
        found = lookup.get_object_or_404(Patient.objects.all(), str(patient.pk))

    # then
    assert len(queries) == 1
    assert isinstance(found, Patient)
    assert not found._state.adding
    assert found._state.db == "default"
    for field in Patient._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name


def test_the_statement_is_compiled_once(monkeypatch):
    # given
    first, second = PatientFactory(), PatientFactory()
    compiles = []
    compile_ = lookup._compile
    monkeypatch.setattr(lookup, "_compile", lambda *a: compiles.append(a) or compile_(*a))
    monkeypatch.setattr(lookup, "_local", type(lookup._local)())

    # when
    reads = [lookup.get_object_or_404(Patient.objects.all(), str(p.pk)) for p in (first, second)]

    # then
    assert [r.pk for r in reads] == [first.pk, second.pk]
    assert len(compiles) == 1


@pytest.mark.parametrize("pk", ["0", "999999", "abc", "1.5", "-1", "١٢", "99999999999999999999"])
def test_an_id_that_names_no_patient_is_a_404(pk):
    PatientFactory()
    with pytest.raises(Http404):
        lookup.get_object_or_404(Patient.objects.all(), pk)


def test_a_narrowed_queryset_is_not_bypassed():
    # given
    archived = PatientFactory(archived=True)

    # then
    with pytest.raises(Http404):
        lookup.get_object_or_404(Patient.objects.filter(archived=False), str(archived.pk))
    for narrowed in (
        Patient.objects.filter(archived=False),
        Patient.objects.exclude(pk=0),
        Patient.objects.select_related("home_clinic"),
        Patient.objects.only("id"),
        Patient.objects.order_by("family_name"),
        Patient.objects.all()[:5],
        Patient.objects.values(),
    ):
        assert lookup._compiled(narrowed) is None, narrowed.query


def test_the_api_retrieve_is_unchanged(reception_api):
    # given
    patient = PatientFactory(given_name="Ada", phone="+61412345678")

    # when
    response = reception_api.get(f"/api/v1/patients/{patient.pk}/")
    missing = reception_api.get("/api/v1/patients/999999/")

    # then
    assert response.status_code == 200
    assert response.json()["given_name"] == "Ada"
    assert response.json()["phone"] == "+61412345678"
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No Patient matches the given query."
