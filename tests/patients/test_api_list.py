"""The patient list reads rows, not model instances (issue 16): each listed patient must
read exactly as the same patient retrieved on its own, and be audited the same."""

import json
from datetime import date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import CLINICIAN, PRACTICE_ADMIN, RECEPTION
from audit.models import AuditEvent
from audit.services import Target
from patients.api.serializers import (
    PATIENT_LIST_COLUMNS,
    PatientRow,
    PatientSerializer,
    rows_representation,
)
from patients.models import Patient
from patients.selectors import patient_list, patient_list_rows, patient_rows_page
from tests.factories import (
    ClinicFactory,
    CoordinatorFactory,
    PatientFactory,
    ReferrerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"


def make_varied_patients() -> None:
    """Every kind of value a patient column holds: set and empty, AU and overseas."""
    PatientFactory(
        given_name="Ada",
        family_name="Alpha",
        preferred_name="Addy",
        date_of_birth=date(1950, 12, 9),
        sex="female",
        phone="+61412345678",
        emergency_contact_name="Bo Alpha",
        emergency_contact_phone="+61298765432",
        medicare_number="2123456701",
        medicare_irn="1",
        ndis_number="430000000",
        dva_number="NX123456",
        funding_type="ndis",
        home_clinic=ClinicFactory(),
        referrer=ReferrerFactory(),
        coordinator=CoordinatorFactory(),
        sms_consent=True,
        alerts="Latex allergy",
        archived=True,
    )
    PatientFactory(given_name="Bea", family_name="Beta", phone="", date_of_birth=None)
    PatientFactory(given_name="Cy", family_name="Gamma", phone="+14155552671")  # overseas
    PatientFactory(given_name="Di", family_name="Delta", phone="+611300123456")  # 1300


@pytest.mark.parametrize("zone", ["Australia/Sydney", "Australia/Perth", "UTC"])
def test_a_listed_patient_reads_exactly_as_the_patient_retrieved(reception_api, zone):
    make_varied_patients()

    with timezone.override(zone):
        listed = reception_api.get(URL, {"page_size": 2}).json()
        listed["results"] += reception_api.get(listed["next"]).json()["results"]
        retrieved = [reception_api.get(f"{URL}{row['id']}/").json() for row in listed["results"]]

    assert [row["family_name"] for row in listed["results"]] == [
        "Alpha",
        "Beta",
        "Delta",
        "Gamma",
    ]
    # Key for key, in the same order, with the same spelling of every value.
    assert [json.dumps(row) for row in listed["results"]] == [json.dumps(r) for r in retrieved]


def test_a_filtered_list_counts_and_reads_only_the_patients_it_matches(reception_api):
    make_varied_patients()
    PatientFactory.create_batch(3, funding_type="ndis")

    page = reception_api.get(URL, {"funding_type": "ndis", "page_size": 2}).json()

    assert page["count"] == 4
    assert len(page["results"]) == 2
    assert {row["funding_type"] for row in page["results"]} == {"ndis"}


def test_a_patient_list_page_is_one_audit_event_naming_every_patient_shown(reception_api):
    make_varied_patients()

    results = reception_api.get(URL).json()["results"]

    [event] = AuditEvent.objects.exclude(action__in=["login", "login_failed"])
    assert (event.action, event.object_type) == ("read", "patients.patient")
    assert event.object_ids == [str(row["id"]) for row in results]
    assert event.patient_ids == sorted(row["id"] for row in results)


def test_the_list_rows_are_the_patient_list_every_user_sees():
    # patient_list_rows sets its query up once for everyone: that is only right while
    # patient_list is the same query whoever asks.
    for role in (RECEPTION, CLINICIAN, PRACTICE_ADMIN):
        user = UserFactory(role=role)
        rows = patient_list_rows(user=user, columns=PATIENT_LIST_COLUMNS)
        expected = patient_list(user=user).values(*PATIENT_LIST_COLUMNS)
        assert str(rows.query) == str(expected.query)


def test_a_plain_page_read_from_the_sql_compiled_once_is_the_page_the_orm_reads():
    make_varied_patients()
    PatientFactory.create_batch(5)
    rows = patient_list_rows(user=UserFactory(role=RECEPTION), columns=PATIENT_LIST_COLUMNS)

    for offset, limit in [(0, 3), (2, 4), (7, 5), (20, 5)]:
        page = patient_rows_page(rows.all(), offset=offset, limit=limit)
        expected = list(rows.all()[offset : offset + limit])
        assert page is not None
        # Phone numbers stay the text stored; every other value is what the ORM reads.
        assert page.rows == [
            {
                **row,
                "phone": str(row["phone"].raw_input) if row["phone"] else "",
                "emergency_contact_phone": (
                    row["emergency_contact_phone"].raw_input
                    if row["emergency_contact_phone"]
                    else ""
                ),
            }
            for row in expected
        ]
        assert [list(row) for row in page.rows] == [list(PATIENT_LIST_COLUMNS)] * len(page.rows)
        assert page.count is None


def test_a_plain_page_counts_the_list_in_its_own_query_up_to_the_cap():
    PatientFactory.create_batch(7)
    rows = patient_list_rows(user=UserFactory(role=RECEPTION), columns=PATIENT_LIST_COLUMNS)

    with CaptureQueriesContext(connection) as queries:
        first = patient_rows_page(rows.all(), offset=0, limit=2, count_cap=100)
        capped = patient_rows_page(rows.all(), offset=4, limit=2, count_cap=5)
        past_the_end = patient_rows_page(rows.all(), offset=10, limit=2, count_cap=100)

    assert len(queries) == 3
    assert first is not None and capped is not None and past_the_end is not None
    assert (len(first.rows), first.count) == (2, 7)
    assert (len(capped.rows), capped.count) == (2, 5)
    # No row to carry the count: the caller counts the ordinary way.
    assert (past_the_end.rows, past_the_end.count) == ([], None)
    assert [row["id"] for row in first.rows + capped.rows] == [
        row["id"] for row in [*rows.all()[0:2], *rows.all()[4:6]]
    ]


@pytest.mark.parametrize(
    ("page", "queries"),
    [
        (1, ["page and count", "audit"]),
        (2, ["page and count", "audit"]),
        # Past the end: no row to carry the count, and nothing shown to audit.
        (9, ["page", "count"]),
    ],
)
def test_a_plain_page_reads_its_rows_and_count_in_one_query(reception_api, page, queries):
    PatientFactory.create_batch(7)
    reception_api.get(URL)  # the user's permissions, cached per user

    with CaptureQueriesContext(connection) as ctx:
        body = reception_api.get(URL, {"page_size": 3, "page": page}).json()

    assert len(ctx) == len(queries)
    assert body["count"] == 7


def test_a_page_shown_without_the_list_serializer_is_what_the_serializer_gives():
    make_varied_patients()
    user = UserFactory()
    rows = [PatientRow(row) for row in patient_list_rows(user=user, columns=PATIENT_LIST_COLUMNS)]
    patients = list(patient_list(user=user).order_by("family_name", "given_name", "id"))

    with timezone.override("Australia/Perth"):
        shown = rows_representation(rows)
        expected = PatientSerializer(patients, many=True).data

    assert json.dumps(shown) == json.dumps(expected)


def test_a_naive_time_in_a_listed_row_is_refused_as_before():
    row = PatientRow(
        dict.fromkeys(PATIENT_LIST_COLUMNS, None),
        id=1,
        created_at=datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
    )

    with pytest.raises(ValueError, match="naive"):
        PatientSerializer(row).to_representation(row)


def test_a_page_of_patients_is_audited_as_each_patient_alone_would_be():
    make_varied_patients()
    rows = [PatientRow(row) for row in patient_list_rows(user=UserFactory(), columns=("id",))]
    patients = list(Patient.objects.all())

    assert Target.of_each(rows, "pk") == [Target.of(row, "pk") for row in rows]
    assert Target.of_each(patients, "pk") == [Target.of(p, "pk") for p in patients]
    assert [t.patient_id for t in Target.of_each(rows, "pk")] == [row["id"] for row in rows]
