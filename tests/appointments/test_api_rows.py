"""The appointment list reads its usual filters from SQL compiled once per set of filters
(AppointmentRows, issue 16): every page must read as the filter form and the ORM read it,
be audited the same, and run the same SQL."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils.http import urlencode

from appointments.api.serializers import (
    LIST_COLUMNS,
    AppointmentRow,
    AppointmentSerializer,
    rows_representation,
)
from appointments.api.views import AppointmentFilter
from appointments.models import Appointment
from appointments.selectors import appointment_list, appointment_list_rows, appointment_rows
from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


@pytest.fixture
def diary():
    """Three clinicians at two clinics in two zones, over three days: starts that tie
    across clinicians (the cursor's offsets), every status, notes and a cancellation."""
    sydney_clinic = ClinicFactory(timezone="Australia/Sydney")
    perth_clinic = ClinicFactory(timezone="Australia/Perth")
    clinicians = [
        ClinicianFactory(title="Dr", given_name="Ann", family_name="Ames"),
        ClinicianFactory(title="", given_name="Bob", family_name="Best"),
        ClinicianFactory(given_name="Cat", family_name="Cole"),
    ]
    kinds = [AppointmentTypeFactory(duration_minutes=30), AppointmentTypeFactory(colour="#123")]
    patients = [PatientFactory(given_name=f"P{i}", family_name="Q") for i in range(4)]
    statuses = ["booked", "confirmed", "cancelled", "completed", "no_show", "arrived"]
    made = 0
    for day in range(3):
        for hour in (9, 10, 11, 13):
            for n, clinician in enumerate(clinicians):
                AppointmentFactory(
                    patient=patients[(made + n) % len(patients)],
                    clinician=clinician,
                    clinic=sydney_clinic if n < 2 else perth_clinic,
                    appointment_type=kinds[made % 2],
                    start=sydney(MONDAY + timedelta(days=day), hour),
                    status=statuses[made % len(statuses)],
                    notes="Bring the scans" if made % 5 == 0 else "",
                    cancellation_reason="Sick" if made % len(statuses) == 2 else "",
                )
                made += 1
    return sydney_clinic, clinicians, patients


def walk(api, query):
    """Every page from the first, forward by `next` and back again by `previous`: bodies,
    the SQL each ran, and the audit events it left."""
    pages, sql = [], []
    url = f"{URL}?{urlencode(query)}"
    seen = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for direction in ("next", "previous"):
        while True:
            with CaptureQueriesContext(connection) as ran:
                response = api.get(url)
            pages.append((response.status_code, response.content))
            sql += [
                q["sql"] for q in ran.captured_queries if "appointments_appointment" in q["sql"]
            ]
            following = response.json().get(direction)
            if not following:
                break
            url = following
    events = list(
        AuditEvent.objects.filter(id__gt=seen)
        .exclude(action__in=["login", "login_failed"])
        .order_by("id")
        .values_list("action", "object_type", "object_ids", "patient_ids", "outcome", "detail")
    )
    return pages, sql, events


def queries(diary):
    clinic, clinicians, patients = diary
    day = {
        "start_after": sydney(MONDAY + timedelta(days=1), 0).isoformat(),
        "start_before": sydney(MONDAY + timedelta(days=2), 0).isoformat(),
    }
    return [
        {},
        {"page_size": 5},
        {"page_size": 2, "clinician": clinicians[0].pk, **day},
        {"clinician": clinicians[1].pk, **day, "page_size": 50},
        {"clinic": clinic.pk, "page_size": 10},
        {"patient": patients[1].pk, "status": "booked", "page_size": 1},
        {"start_after": day["start_after"], "page_size": 16},
        {"clinician": clinicians[0].pk, "clinic": clinic.pk, "patient": patients[0].pk},
        {"clinician": 424242},
        {"start_after": "2031-12-31T13:00:00Z", "start_before": "2032-03-02", "page_size": 9},
    ]


def test_a_filtered_list_reads_as_the_filter_form_and_orm_read_it(
    reception_api, diary, monkeypatch
):
    for query in queries(diary):
        fast = walk(reception_api, query)
        with monkeypatch.context() as ordinary:
            ordinary.setattr(AppointmentFilter, "plain_lookups", lambda *a, **k: None)
            expected = walk(reception_api, query)

        assert fast[0] == expected[0], query  # every page, byte for byte
        # One statement a page, as the ORM's: its patients joined after the page's LIMIT.
        assert len(fast[1]) == len(expected[1]) == len(fast[0]), query
        assert all(read_patients_after_the_page(sql) for sql in fast[1]), query
        assert fast[2] == expected[2], query  # the same audit events
        assert len(fast[0]) > 1 or query == {"clinician": 424242}


def read_patients_after_the_page(sql):
    """Whether `sql` reads the page's appointments (ordered, windowed) in a subquery and
    joins the patients to those rows only (AppointmentRows, _page_first)."""
    page, _, after = sql.partition(') "listed" INNER JOIN "patients_patient" ON ')
    return (
        bool(after)
        and "LIMIT" in page
        and "LIMIT" not in after
        and '"patients_patient"' not in page.partition(" FROM (")[2]
        and after.count("ORDER BY") == 1
    )


def test_the_page_is_read_before_its_patients_are_joined(diary):
    # Joined with the appointments before the LIMIT, PostgreSQL's generic plan put a
    # Memoize over the patients that never hits (one patient per row) and cost more than
    # the page's read on a large practice (issue 16): the page first, then its patients.
    _, clinicians, patients = diary
    user = UserFactory(role="reception")
    start = sydney(MONDAY + timedelta(days=1), 0)
    for lookups, ordering, window in [
        ([], ("start", "id"), slice(0, 26)),
        ([("start__gt", start)], ("start", "id"), slice(1, 27)),
        (
            [("start__lt", start), ("clinician_id__exact", clinicians[0].pk)],
            ("-start", "-id"),
            slice(0, 3),
        ),
        ([("patient_id__exact", patients[1].pk)], ("start", "id"), slice(2, 9)),
    ]:
        rows = appointment_rows(user=user, columns=LIST_COLUMNS, lookups=lookups)
        with CaptureQueriesContext(connection) as ran:
            read = list(rows.order_by(*ordering)[window])

        [statement] = [q["sql"] for q in ran.captured_queries]
        assert read_patients_after_the_page(statement), statement
        assert statement.endswith(
            " ORDER BY "
            + ", ".join(
                f'"listed"."{name.lstrip("-")}" {"DESC" if name[0] == "-" else "ASC"}'
                for name in ordering
            )
        ), statement
        assert read, lookups


def test_rows_without_patient_columns_read_as_one_query(diary):
    # Nothing of the patient's is shown: nothing to join after the page.
    user = UserFactory(role="reception")
    rows = appointment_rows(user=user, columns=("id", "patient_id", "start"))
    with CaptureQueriesContext(connection) as ran:
        read = list(rows.order_by("start", "id")[0:5])

    [statement] = [q["sql"] for q in ran.captured_queries]
    assert "listed" not in statement and "patients_patient" not in statement
    expected = appointment_list_rows(user=user, columns=("id", "patient_id", "start"))
    assert read == list(expected.order_by("start", "id")[0:5])


def test_requests_beyond_the_plain_filters_go_the_ordinary_way(diary):
    _, clinicians, _ = diary
    plain = AppointmentFilter.plain_lookups
    also = ("cursor", "page_size")
    params = QueryDict

    assert plain(params(f"clinician={clinicians[0].pk}&page_size=3"), also=also) == [
        ("clinician_id__exact", clinicians[0].pk)
    ]
    assert plain(params(""), also=also) == []
    for refused in [
        "unknown=1",
        "format=json",
        "clinician=",
        "clinician=0",
        "clinician=abc",
        f"clinician=1&clinician={clinicians[0].pk}",
        "status=bogus",
        "status=null",
        "start_after=yesterday",
    ]:
        assert plain(params(refused), also=also) is None, refused


def test_appointment_rows_read_what_their_queryset_reads(diary):
    clinic, clinicians, patients = diary
    user = UserFactory(role="reception")
    start = sydney(MONDAY + timedelta(days=1), 0)
    shapes = [
        [],
        [("clinician_id__exact", clinicians[0].pk)],
        [("clinic_id__exact", clinic.pk), ("start__gte", start)],
        [("patient_id__exact", patients[2].pk), ("status__exact", "booked")],
        [("start__lt", start), ("start__lt", str(start - timedelta(hours=30)))],
    ]
    for lookups in shapes:
        for ordering in [("start", "id"), ("-start", "-id")]:
            for window in [slice(0, 3), slice(2, 9), slice(0, None)]:
                rows = appointment_rows(user=user, columns=LIST_COLUMNS, lookups=lookups)
                read = list(rows.order_by(*ordering)[window])

                expected = appointment_list_rows(user=user, columns=LIST_COLUMNS)
                for lookup, value in lookups:
                    expected = expected.filter(**{lookup: value})
                assert read == list(expected.order_by(*ordering)[window]), (lookups, window)


def test_a_page_of_the_same_filters_with_other_values_compiles_nothing(
    reception_api, diary, monkeypatch
):
    _, clinicians, _ = diary
    compiled = []
    as_sql = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        if self.query.model is Appointment:
            compiled.append(self.query)
        return as_sql(self, *args, **kwargs)

    reception_api.get(URL, {"clinician": clinicians[0].pk, "page_size": 2})
    monkeypatch.setattr(SQLCompiler, "as_sql", counting)

    for clinician in clinicians:
        first = reception_api.get(URL, {"clinician": clinician.pk, "page_size": 2}).json()
        assert len(first["results"]) == 2
        assert {row["clinician"] for row in first["results"]} == {clinician.pk}

    assert compiled == []


def test_a_page_of_rows_shows_each_appointment_as_the_serializer_does(diary):
    # rows_representation() works each zone, name and time out once a page: the same
    # instant at a Sydney and a Perth clinic must still read in each one's own zone.
    user = UserFactory(role="reception")
    rows = appointment_rows(user=user, columns=LIST_COLUMNS, row_type=AppointmentRow)
    page = list(rows.order_by("start", "id"))
    instances = {appointment.pk: appointment for appointment in appointment_list(user=user)}

    shown = rows_representation(page)

    assert all(type(row) is AppointmentRow for row in page)
    assert len(shown) == len(instances) == 36
    assert len({row["start"] for row in page}) < len({item["start"] for item in shown})
    for row, item in zip(page, shown, strict=True):
        expected = AppointmentSerializer(instances[row["id"]]).data
        assert list(item.items()) == list(expected.items())  # the same keys, in order
        assert AppointmentSerializer(row).data == expected
