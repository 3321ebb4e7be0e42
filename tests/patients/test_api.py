from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from patients.models import Patient
from patients.selectors import patient_search, patient_search_branches
from tests.conftest import requires_postgres
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"


def test_registering_a_patient_normalises_phone_and_medicare(reception_api, reception_user):
    response = reception_api.post(
        URL,
        {
            "given_name": "Grace",
            "family_name": "Hopper",
            "date_of_birth": "1950-12-09",
            "phone": "0412 345 678",
            "medicare_number": "2123 45670 1",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["phone"] == "+61412345678"
    assert response.json()["medicare_number"] == "2123456701"
    assert Patient.objects.get().created_by == reception_user


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "12345"),
        ("medicare_number", "2123456711"),
        ("ndis_number", "123456789"),
        ("date_of_birth", str(timezone.localdate() + timedelta(days=1))),
        ("date_of_birth", "31/12/1980"),
        ("postcode", "20A0"),
        ("sex", "robot"),
        ("home_clinic", 99999),
    ],
)
def test_bad_patient_fields_get_a_400_and_nothing_is_stored(reception_api, field, value):
    response = reception_api.post(
        URL, {"given_name": "Grace", "family_name": "Hopper", field: value}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert Patient.objects.count() == 0


def test_patch_updates_only_what_was_sent(reception_api):
    patient = PatientFactory(given_name="Ada", family_name="Lovelace", alerts="")

    response = reception_api.patch(
        f"{URL}{patient.pk}/", {"alerts": "Latex allergy"}, format="json"
    )

    patient.refresh_from_db()
    assert response.status_code == 200
    assert (patient.given_name, patient.alerts) == ("Ada", "Latex allergy")


def test_put_and_delete_are_not_offered(admin_api):
    patient = PatientFactory()

    assert admin_api.delete(f"{URL}{patient.pk}/").status_code == 405
    assert admin_api.put(f"{URL}{patient.pk}/", {}, format="json").status_code == 405
    assert Patient.objects.filter(pk=patient.pk).exists()


@pytest.fixture
def register(db):
    PatientFactory(
        given_name="Ada",
        family_name="Lovelace",
        phone="+61412345678",
        email="ada@example.com",
        medicare_number="2123456701",
    )
    PatientFactory(
        given_name="Alan",
        family_name="Turing",
        phone="+61298765432",
        email="alan@example.com",
        medicare_number="",
    )
    PatientFactory(given_name="Grace", family_name="Adams", preferred_name="Gracie")


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("lov", ["Lovelace"]),
        ("ada", ["Adams", "Lovelace"]),
        ("ada lov", ["Lovelace"]),
        ("GRACIE", ["Adams"]),
        ("0412 345", ["Lovelace"]),
        ("+61 2 9876 5432", ["Turing"]),
        ("2123 4567", ["Lovelace"]),
        ("alan@", ["Turing"]),
        ("zzz", []),
    ],
)
def test_search_matches_name_phone_medicare_and_email(reception_api, register, term, expected):
    response = reception_api.get(URL, {"search": term})

    assert [p["family_name"] for p in response.json()["results"]] == expected


def test_list_is_paginated_with_an_exact_small_count(reception_api):
    PatientFactory.create_batch(3)

    first = reception_api.get(URL, {"page_size": 2}).json()
    second = reception_api.get(first["next"]).json()

    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert second["previous"] is not None
    assert len(second["results"]) == 1
    assert second["next"] is None


def test_paging_through_a_search_shows_every_match_once_in_name_order(reception_api):
    for given, family in [("Cat", "Smithers"), ("bob", "smith"), ("Eve", "Smithe")]:
        PatientFactory(given_name=given, family_name=family)
    for given, family in [("Dan", "SMITH"), ("Ann", "Smith"), ("Zed", "Jones")]:
        PatientFactory(given_name=given, family_name=family)

    page = reception_api.get(URL, {"search": "smi", "page_size": 2}).json()
    count, shown = page["count"], [p["given_name"] for p in page["results"]]
    while page["next"]:
        page = reception_api.get(page["next"]).json()
        shown += [p["given_name"] for p in page["results"]]

    assert count == 5
    assert shown == ["Ann", "bob", "Dan", "Eve", "Cat"]


def test_a_patient_matching_several_names_is_counted_and_listed_once(reception_api):
    # Given patients who match "smi" by family, given and preferred name, some by two
    PatientFactory(given_name="Smita", family_name="Adams", preferred_name="")
    PatientFactory(given_name="Smith", family_name="Smith", preferred_name="Smithy")
    PatientFactory(given_name="Zoe", family_name="Brown", preferred_name="Smitty")
    PatientFactory(given_name="Al", family_name="Smith", preferred_name="")
    PatientFactory(given_name="Bo", family_name="Jones", preferred_name="")

    # When reception pages through the search one patient at a time
    page = reception_api.get(URL, {"search": "smi", "page_size": 1}).json()
    count, shown = page["count"], [p["given_name"] for p in page["results"]]
    while page["next"]:
        page = reception_api.get(page["next"]).json()
        assert page["count"] == count
        shown += [p["given_name"] for p in page["results"]]

    # Then each appears once, in family then given name order
    assert count == 4
    assert shown == ["Smita", "Zoe", "Al", "Smith"]


def test_a_search_of_several_words_needs_each_word_to_begin_a_name(reception_api):
    PatientFactory(given_name="Olivia", family_name="Smith", preferred_name="")
    PatientFactory(given_name="Oscar", family_name="Smithers", preferred_name="Ozzie")
    PatientFactory(given_name="Smith", family_name="Oliver", preferred_name="")
    PatientFactory(given_name="Olivia", family_name="Jones", preferred_name="")

    found = reception_api.get(URL, {"search": "smi oli"}).json()

    assert [(p["given_name"], p["family_name"]) for p in found["results"]] == [
        ("Smith", "Oliver"),
        ("Olivia", "Smith"),
    ]
    assert found["count"] == 2


def test_a_search_page_far_down_the_list_shows_the_right_patients(reception_api):
    for i in range(12):
        PatientFactory(given_name=f"Ann{i:02d}", family_name="Smith", preferred_name="")
    PatientFactory(given_name="Smithy", family_name="Zed", preferred_name="")

    page = reception_api.get(URL, {"search": "smi", "page_size": 5, "page": 3}).json()

    assert [p["given_name"] for p in page["results"]] == ["Ann10", "Ann11", "Smithy"]
    assert page["count"] == 13
    assert page["next"] is None


@requires_postgres
def test_search_pages_read_each_branch_from_its_own_index(register):
    # The page of a name search asks each name column's index for its first rows; the
    # family-name index also holds the sort keys (patients migration 0008).
    matched = patient_search(Patient.objects.all(), "ada")
    branches = patient_search_branches(matched, "ada")
    assert branches is not None
    sql, params = branches.page_sql(offset=0, limit=26)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for index in ("patient_family_search", "patient_given_search", "patient_pref_search"):
        assert index in plan, plan


@requires_postgres
def test_search_sql_can_use_the_prefix_indexes(register):
    # With sequential scans priced out, a plan that still scans the table means the
    # generated SQL no longer matches any index (docs/performance.md, "planner trap").
    for term in ("lov", "0412", "2123", "ada@"):
        sql, params = patient_search(Patient.objects.all(), term).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan on patients_patient" not in plan, plan
        assert "Index" in plan, plan


@requires_postgres
def test_the_plain_list_page_is_read_in_index_order_without_sorting(register):
    # The whole list order (family name, given name, id) is one index: a page stops after
    # its rows instead of reading every patient of its names to sort them by id.
    sql, params = Patient.objects.order_by(*Patient._meta.ordering)[:26].query.sql_with_params()
    with connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_sort", "enable_incremental_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Sort" not in plan, plan
    assert "Index Scan" in plan, plan
