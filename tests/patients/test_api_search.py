"""The API patient search reads rows, not model instances, and puts its SQL together as
text (issue 16): each patient found must read exactly as the same patient retrieved on its
own, in the search's order, counted and audited as before."""

import json
import re
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

from audit.models import AuditEvent
from patients import selectors
from patients.api import views
from patients.api.serializers import PATIENT_LIST_COLUMNS
from patients.models import Patient
from patients.selectors import (
    PatientSearchBranches,
    RowsPage,
    SearchCondition,
    Starts,
    patient_list,
    patient_list_search,
    patient_search,
    patient_search_branches,
    prefix_range,
)
from tests.conftest import requires_postgres
from tests.factories import ClinicFactory, CoordinatorFactory, PatientFactory, ReferrerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"


def make_searched_patients() -> None:
    """Patients a name, phone, Medicare, email and date-of-birth search find, with every
    kind of value a patient column holds."""
    PatientFactory(
        given_name="Ada",
        family_name="Smith",
        preferred_name="Addy",
        date_of_birth=date(1950, 12, 9),
        sex="female",
        phone="+61412345678",
        email="ada.smith@example.com",
        emergency_contact_name="Bo Smith",
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
    PatientFactory(given_name="Smita", family_name="Jones", phone="", date_of_birth=None)
    PatientFactory(
        given_name="Cy", family_name="Brown", preferred_name="Smitty", phone="+14155552671"
    )
    PatientFactory(given_name="Di", family_name="Smithers", phone="+611300123456")
    PatientFactory(
        given_name="Ed", family_name="Smith", phone="+61412000111", medicare_number="2123999991"
    )
    PatientFactory(given_name="Flo", family_name="Green", date_of_birth=date(1950, 12, 9))


SEARCHES = [
    ("smi", ["Brown", "Jones", "Smith", "Smith", "Smithers"]),
    ("0412", ["Smith", "Smith"]),
    ("2123", ["Smith", "Smith"]),
    ("+61412345678", ["Smith"]),
    ("ada.smith@", ["Smith"]),
    ("09/12/1950", ["Green", "Smith"]),
    ("smi ad", ["Smith"]),
]


@pytest.mark.parametrize("zone", ["Australia/Sydney", "Australia/Perth", "UTC"])
@pytest.mark.parametrize(("term", "family_names"), SEARCHES)
def test_a_patient_found_reads_exactly_as_the_patient_retrieved(
    reception_api, zone, term, family_names
):
    make_searched_patients()

    with timezone.override(zone):
        found = reception_api.get(URL, {"search": term, "page_size": 1}).json()
        results = found["results"]
        while found["next"]:
            found = reception_api.get(found["next"]).json()
            results += found["results"]
        retrieved = [reception_api.get(f"{URL}{row['id']}/").json() for row in results]

    assert [row["family_name"] for row in results] == family_names
    # Key for key, in the same order, with the same spelling of every value.
    assert [json.dumps(row) for row in results] == [json.dumps(r) for r in retrieved]


def test_a_search_page_is_one_audit_event_naming_every_patient_found(reception_api):
    make_searched_patients()

    results = reception_api.get(URL, {"search": "smi"}).json()["results"]

    [event] = AuditEvent.objects.exclude(action__in=["login", "login_failed"])
    assert (event.action, event.object_type) == ("search", "patients.patient")
    assert event.object_ids == [str(row["id"]) for row in results]
    assert event.patient_ids == sorted(row["id"] for row in results)


# A prepared search page reads a branch whose prefix has `common` index entries or more by
# walking the family-name index: with 1, every branch but the family name's does.
@pytest.mark.parametrize("common", [None, 1])
@pytest.mark.parametrize("term", ["smi", "0412", "smi ad", "ad", "s", "2123", "+61412345678"])
def test_a_search_page_read_branch_by_branch_is_the_page_the_orm_reads(term, common, monkeypatch):
    if common is not None:
        monkeypatch.setattr(SearchCondition, "common", common)
        monkeypatch.setattr(Starts, "common", common)
    make_searched_patients()
    PatientFactory.create_batch(8, family_name="Smithson")
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term)
    branches = patient_search_branches(matched, term)
    assert branches is not None

    for offset, limit in [(0, 3), (2, 4), (5, 20), (40, 5)]:
        page = branches.rows(offset=offset, limit=limit, columns=PATIENT_LIST_COLUMNS)
        assert page.rows == list(matched[offset : offset + limit])
        assert [list(row) for row in page.rows] == [list(PATIENT_LIST_COLUMNS)] * len(page.rows)
        assert page.count is None
    assert branches.count(cap=1_000) == matched.count()
    assert branches.count(cap=3) == min(3, matched.count())


@pytest.mark.parametrize("cap", [1, 3, 1_001])
def test_a_search_page_counts_the_search_in_the_same_statement(cap):
    make_searched_patients()
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), "smi")
    branches = patient_search_branches(matched, "smi")
    assert branches is not None

    with CaptureQueriesContext(connection) as queries:
        page = branches.rows(offset=1, limit=2, columns=PATIENT_LIST_COLUMNS, count_cap=cap)

    assert len(queries) == 1
    assert page.rows == list(matched[1:3])
    assert page.count == min(cap, matched.count())
    # Past the end there is no row to carry the count.
    past = branches.rows(offset=50, limit=2, columns=PATIENT_LIST_COLUMNS, count_cap=cap)
    assert past == RowsPage(rows=[], count=None)


@pytest.mark.parametrize(
    "searched",
    [
        lambda term: patient_search(Patient.objects.all(), term),
        lambda term: patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term),
    ],
)
def test_a_plain_search_repeats_no_condition_its_branches_imply(searched):
    # Each branch implies patient_search()'s OR of them: the branches leave it out.
    for term in ("smi", "0412", "+61412345678"):
        branches = patient_search_branches(searched(term), term)
        assert branches is not None
        assert (branches.where, branches.params) == ("", ())

    # Another word, or another filter, stays.
    branches = patient_search_branches(searched("smi ad"), "smi ad")
    assert branches is not None
    assert branches.where.count("LIKE") == 3
    assert branches.params == ("ad%",) * 3
    branches = patient_search_branches(searched("smi").filter(funding_type="ndis"), "smi")
    assert branches is not None
    assert "funding_type" in branches.where
    assert "LIKE" not in branches.where


@pytest.mark.parametrize(
    ("params", "orm"),
    [
        ({"funding_type": "ndis"}, {"funding_type": "ndis"}),
        ({"archived": "true"}, {"archived": True}),
        ({"archived": "false"}, {"archived": False}),
        ({"home_clinic": "CLINIC"}, {"home_clinic_id": "CLINIC"}),
    ],
)
def test_a_filtered_search_finds_the_patients_the_orm_finds(reception_api, params, orm):
    make_searched_patients()
    clinic = ClinicFactory()
    PatientFactory(given_name="Sam", family_name="Smithe", home_clinic=clinic, funding_type="ndis")
    params = {k: str(clinic.pk) if v == "CLINIC" else v for k, v in params.items()}
    orm = {k: clinic.pk if v == "CLINIC" else v for k, v in orm.items()}

    found = reception_api.get(URL, {"search": "smi", "page_size": 2, **params}).json()

    expected = patient_search(Patient.objects.filter(**orm), "smi")
    assert [row["id"] for row in found["results"]] == [p.pk for p in expected[:2]]
    assert found["count"] == expected.count() > 0


@requires_postgres
def test_a_name_search_page_is_short_enough_for_psycopg_to_parse_once():
    # psycopg keeps the parse of a statement up to MAX_CACHED_STATEMENT_LENGTH long; a
    # longer one is parsed afresh on every request (5.3 kB when the columns were named
    # with their table, issue 16).
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), "smith")
    branches = patient_search_branches(matched, "smith")
    assert branches is not None

    with CaptureQueriesContext(connection) as queries:
        branches.rows(offset=0, limit=26, columns=PATIENT_LIST_COLUMNS, count_cap=1_001)

    [query] = queries
    assert len(query["sql"]) <= MAX_CACHED_STATEMENT_LENGTH


# Terms of every kind the search reads (patients_searched() finds some of each), and terms
# whose % or _ must stay letters.
TERMS = [
    "smi",
    "Smi",
    " smi ",
    "smith j",
    "smi ad",
    "ad smi",
    "smith e x",
    "0412",
    "0412 345",
    "2123456701",
    "+61412345678",
    "ada.smith@example.com",
    "09/12/1950",
    "sm%",
    "sm_",
    "%",
    "zzz",
]


def _forced_ordinary(monkeypatch) -> None:
    # As every list was read before: through the FilterSet and the search's queryset.
    monkeypatch.setattr(views, "_search_alone", lambda params: None)


@pytest.mark.parametrize("term", TERMS)
@pytest.mark.parametrize("page", [{}, {"page": 2, "page_size": 2}, {"page_size": 1}, {"page": 9}])
def test_a_search_alone_answers_exactly_as_the_filterset_did(
    reception_api, monkeypatch, term, page
):
    make_searched_patients()
    PatientFactory.create_batch(3, family_name="Smithson", given_name="Ed")

    fast = reception_api.get(URL, {"search": term, **page})
    _forced_ordinary(monkeypatch)
    ordinary = reception_api.get(URL, {"search": term, **page})

    assert fast.status_code == ordinary.status_code == 200
    assert fast.content == ordinary.content
    events = AuditEvent.objects.filter(action="search").order_by("pk")
    assert [(e.object_ids, e.detail) for e in events[:1]] == [
        (e.object_ids, e.detail) for e in events[1:]
    ]


@pytest.mark.parametrize(
    "query",
    [
        "search=smi",
        "search=smi&page=2&page_size=2",
        "search=0412&page_size=1",
        "search=smith%20j",
    ],
)
def test_a_search_alone_builds_no_filterset(reception_api, monkeypatch, query):
    make_searched_patients()
    built = _count_filtersets(monkeypatch)

    assert reception_api.get(f"{URL}?{query}").status_code == 200
    assert built == []


@pytest.mark.parametrize(
    "query",
    [
        "search=smi&funding_type=ndis",
        "search=smi&archived=false",
        "search=smi&search=ada",
        "search=smi&unknown=1",
        "search=",
        "search=%20",
        # One branch only: read through the queryset, as before.
        "search=ada.smith@",
        "search=09/12/1950",
    ],
)
def test_any_other_search_is_filtered_as_before(reception_api, monkeypatch, query):
    make_searched_patients()
    built = _count_filtersets(monkeypatch)

    fast = reception_api.get(f"{URL}?{query}")
    _forced_ordinary(monkeypatch)
    ordinary = reception_api.get(f"{URL}?{query}")

    assert fast.status_code == 200
    assert fast.content == ordinary.content
    assert len(built) == 2


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("search=smi&page=0", "page"),
        ("search=smi&page=x", "page"),
        ("search=smi&page_size=0", "page_size"),
        ("search=smi&archived=maybe", "archived"),
        ("search=smi&home_clinic=0", "home_clinic"),
    ],
)
def test_a_search_with_a_bad_parameter_is_refused_as_before(
    reception_api, monkeypatch, query, error
):
    fast = reception_api.get(f"{URL}?{query}")
    _forced_ordinary(monkeypatch)
    ordinary = reception_api.get(f"{URL}?{query}")

    assert fast.status_code == ordinary.status_code == 400
    assert fast.content == ordinary.content
    assert error in fast.json()["errors"]


def _count_filtersets(monkeypatch) -> list[object]:
    built: list[object] = []
    init = views.PatientFilter.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(views.PatientFilter, "__init__", counted)
    return built


@pytest.mark.parametrize(("page", "queries"), [(1, 2), (2, 2), (9, 2)])
def test_a_search_alone_reads_its_page_and_count_in_one_query(reception_api, page, queries):
    make_searched_patients()
    PatientFactory.create_batch(6, family_name="Smithson")
    reception_api.get(URL)  # the user's permissions, cached per user

    with CaptureQueriesContext(connection) as ctx:
        body = reception_api.get(URL, {"search": "smi", "page_size": 2, "page": page}).json()

    # The page and its count, then the audit event; past the end, the page then the count.
    assert len(ctx) == queries
    assert body["count"] == 11


@pytest.mark.parametrize("term", TERMS)
@pytest.mark.parametrize("include_archived", [True, False])
def test_a_search_from_its_term_reads_what_the_search_queryset_reads(term, include_archived):
    make_searched_patients()
    PatientFactory.create_batch(3, family_name="Smithson", given_name="Ed", archived=True)

    branches = patient_list_search(user=None, term=term, include_archived=include_archived)  # type: ignore[arg-type]

    listed = patient_list(user=None, include_archived=include_archived)  # type: ignore[arg-type]
    matched = patient_search(listed, term)
    expected = patient_search_branches(matched, term)
    if expected is None:
        assert branches is None
        return
    assert branches is not None
    assert branches.conditions == expected.conditions
    for offset, limit in [(0, 2), (1, 5), (0, 50)]:
        page = branches.page(offset=offset, limit=limit)
        assert [p.pk for p in page] == [p.pk for p in matched[offset : offset + limit]]
    assert branches.count(cap=1_000) == matched.count()


ASCII = st.text(st.characters(max_codepoint=0x7F), min_size=1)


@given(prefix=ASCII, text=st.text(), suffix=st.text())
def test_a_prefix_range_holds_exactly_the_texts_starting_with_the_prefix(prefix, text, suffix):
    low, high = prefix_range(prefix)  # type: ignore[misc]
    # Python compares str by code point, as COLLATE "C" and ~<~ compare UTF-8 bytes.
    for candidate in (text, prefix + suffix, prefix[:-1] + suffix):
        assert candidate.startswith(prefix) == (low <= candidate < high)


@pytest.mark.parametrize("prefix", ["", "é", "smé", "\u212a"])
def test_no_prefix_range_for_an_empty_or_a_non_ascii_prefix(prefix):
    assert prefix_range(prefix) is None


@requires_postgres
@pytest.mark.parametrize("prefix", ["smi", "o_b", "x\\", "a%", "z\x7f", "+61412"])
def test_postgresql_orders_a_prefix_range_as_python_does(prefix):
    low, high = prefix_range(prefix)  # type: ignore[misc]
    texts = [prefix, prefix + "é", prefix + "\U0001f600", prefix[:-1], high, high + "a", "é", "~"]
    with connection.cursor() as cursor:
        for text in texts:
            cursor.execute(
                'SELECT %s COLLATE "C" >= %s AND %s COLLATE "C" < %s, %s ~>=~ %s AND %s ~<~ %s',
                [text, low, text, high] * 2,
            )
            assert cursor.fetchone() == (text.startswith(prefix),) * 2, text


@pytest.mark.parametrize("term", ["smi", "Smith", "0412", "2123", "+61412345678", "smi é"])
def test_an_ascii_search_is_prepared_on_postgresql(term):
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term)
    branches = patient_search_branches(matched, term)
    assert branches is not None
    assert branches.prepared == (connection.vendor == "postgresql")


# Python lowers the Kelvin sign to an ASCII k; the database need not: left to it.
@pytest.mark.parametrize("term", ["émi", "\u212amith", "smith\u212a"])
def test_a_search_for_a_word_python_may_lower_differently_is_not_prepared(term):
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term)
    branches = patient_search_branches(matched, term)
    assert branches is not None
    assert not branches.prepared
    assert "LOWER(%s)" in branches.conditions[0][0] or connection.vendor != "postgresql"


def prepared_searches() -> list[tuple[str, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["%rows_counted%"],
        )
        return cursor.fetchall()


@requires_postgres
def test_name_searches_are_one_statement_planned_once():
    make_searched_patients()
    pages = []
    for term in ("smi", "ad", "Smithers", "jon", "smi"):
        matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term)
        branches = patient_search_branches(matched, term)
        assert branches is not None
        page = branches.rows(offset=0, limit=26, columns=PATIENT_LIST_COLUMNS, count_cap=1_001)
        assert page.rows == list(matched[:26])
        pages.append(page)

    assert pages[0] == pages[-1]
    [(_statement, generic, custom)] = prepared_searches()
    assert (generic, custom) == (5, 0)


def _generic_plan_of_page(branches: PatientSearchBranches, monkeypatch: Any) -> str:
    """The plan PostgreSQL makes, without the values, for the statement that reads a page
    of `branches` with its capped count (as the API asks), sequential scans discouraged."""
    sent = []
    monkeypatch.setattr(
        selectors,
        "fetch_all",
        lambda connection_, sql, params, **_: sent.append((sql, params)) or [],
    )
    branches.rows(offset=0, limit=26, columns=PATIENT_LIST_COLUMNS, count_cap=1_001)
    [(sql, params)] = sent
    numbers = iter(range(1, len(params) + 1))
    with connection.cursor() as cursor:
        cursor.execute("PREPARE searched AS " + re.sub("%s", lambda _: f"${next(numbers)}", sql))
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN EXECUTE searched({', '.join(['%s'] * len(params))})", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE searched")
    assert "$1" in plan, plan  # the generic plan
    return plan


@requires_postgres
@pytest.mark.parametrize(
    ("term", "indexes"),
    [
        ("smi", ["patient_family_search", "patient_given_search", "patient_pref_search"]),
        ("s", ["patient_family_search", "patient_given_search", "patient_pref_search"]),
        ("smithers", ["patient_family_search", "patient_given_search", "patient_pref_search"]),
        ("0412", ["patient_phone_area", "patient_medicare_search"]),
        ("+61412", ["patient_phone_area", "patient_medicare_search"]),
        ("041", ["patient_phone_search", "patient_medicare_search"]),
        ("04123", ["patient_phone_search", "patient_medicare_search"]),
        ("2123", ["patient_phone_search", "patient_medicare_search"]),
    ],
)
def test_a_prepared_search_page_reads_each_branch_from_its_index(term, indexes, monkeypatch):
    # Planned once without the values (nexus.db.postgresql), each branch must still find
    # its rows through its index's range: a plan that scans the table means a branch's
    # range is missing (docs/performance.md, "planner trap").
    make_searched_patients()
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term)
    branches = patient_search_branches(matched, term)
    assert branches is not None
    plan = _generic_plan_of_page(branches, monkeypatch)
    assert "Seq Scan" not in plan, plan
    for index in indexes:
        assert f"using {index} " in plan, plan


@requires_postgres
@pytest.mark.parametrize(("term", "others"), [("smi", [0, 1, 2]), ("0412", [0, 1])])
def test_a_prepared_branch_tests_its_range_alone(term, others):
    # A branch's index range is exactly its condition (SearchCondition.index_range): the
    # condition is not tested again for each entry, only the earlier branches' are.
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term)
    branches = patient_search_branches(matched, term)
    assert branches is not None
    assert branches.prepared
    assert [sql.count("LIKE") for sql, _ in branches.conditions] == others
    assert [sql.count("NOT (") for sql, _ in branches.conditions] == others


FAMILY, GIVEN = 'lower((family_name)::text) COLLATE "C"', 'lower((given_name)::text) COLLATE "C"'


@requires_postgres
@pytest.mark.parametrize(
    ("index", "keys"),
    [
        ("patient_family_search", [FAMILY, GIVEN]),
        ("patient_given_search", [GIVEN, FAMILY]),
        ("patient_pref_search", ['lower((preferred_name)::text) COLLATE "C"', FAMILY, GIVEN]),
        ("patient_phone_search", ["phone varchar_pattern_ops", FAMILY, GIVEN]),
        ("patient_medicare_search", ["medicare_number varchar_pattern_ops", FAMILY, GIVEN]),
        ("patient_phone_area", ['"left"((phone)::text, 6)', FAMILY, GIVEN]),
    ],
)
def test_each_search_index_holds_the_sort_keys(index, keys):
    # A branch's matches are sorted by the sort keys as its index-only scan reads them
    # stored, not computed again for each match (patients migration 0011); the given-name
    # index begins with one already.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
        [(definition,)] = cursor.fetchall()
    assert f"USING btree ({', '.join([*keys, 'id'])}) INCLUDE (" in definition, definition


# Each branch is counted once for the page's capped count and for how to read it
# (PatientSearchBranches._counts_sql): a cap reached in an early branch, a later one,
# or not at all, with branches read either way.
@pytest.mark.parametrize("common", [None, 1, 2])
@pytest.mark.parametrize("term", ["smi", "0412", "smi ad", "2123"])
def test_a_search_page_counts_every_branch_up_to_the_cap(term, common, monkeypatch):
    if common is not None:
        monkeypatch.setattr(SearchCondition, "common", common)
        monkeypatch.setattr(Starts, "common", common)
    make_searched_patients()
    PatientFactory.create_batch(3, family_name="Smithson", given_name="Adam")
    PatientFactory.create_batch(2, given_name="Smitty", phone="+61412000999")
    matched = patient_search(Patient.objects.values(*PATIENT_LIST_COLUMNS), term)
    branches = patient_search_branches(matched, term)
    assert branches is not None
    total = matched.count()

    for cap in [1, 2, 3, 4, 6, 1_001]:
        page = branches.rows(offset=0, limit=2, columns=PATIENT_LIST_COLUMNS, count_cap=cap)
        assert page.rows == list(matched[:2])
        assert page.count == min(cap, total)


@requires_postgres
@pytest.mark.parametrize(
    ("term", "index"),
    [
        ("041", "patient_phone_search"),
        ("0412", "patient_phone_area"),
        ("04123", "patient_phone_search"),
    ],
)
def test_a_prepared_phone_search_reads_the_phone_index_twice(term, index, monkeypatch):
    # Once to count its matches (the page's count and how to read the branch), once for
    # the page: it was three times (issue 16). A prefix of the length "0412" gives reads
    # the phone-area index (patients migration 0012), walking it in the search's order.
    make_searched_patients()
    branches = patient_list_search(user=None, term=term)  # type: ignore[arg-type]
    assert branches is not None
    plan = _generic_plan_of_page(branches, monkeypatch)
    assert plan.count(f"using {index} ") == 2, plan
    if index == "patient_phone_area":
        assert "using patient_phone_search " not in plan, plan
        assert branches.dense[0] is None  # read in order, never sorted


def make_phone_patients() -> None:
    """Patients whose numbers share their first 4 to 8 digits, with names that tie but
    for case or id, some archived, and Medicare numbers that start as the digits typed."""
    names = [
        ("smith", "Ada"),
        ("Smith", "ada"),
        ("SMITH", "Ada"),
        ("O'Brien", "Zed"),
        ("obrien", "Al"),
        ("Zhang", "Li"),
        ("Ng", "Bo"),
        ("Ng", "Bo"),
        ("Émile", "X"),
        ("adams", "Cy"),
        ("Ng", ""),
        ("_ng", "Bo"),
    ]
    for i, (family, given_name) in enumerate(names):
        PatientFactory(
            family_name=family,
            given_name=given_name,
            phone=f"+6141{i % 4}{i % 3}{i:05d}",
            medicare_number=f"0412{i % 2}{i:05d}" if i % 3 == 0 else "",
            archived=i % 5 == 0,
        )
    PatientFactory(family_name="Abbot", given_name="Ann", phone="+61412")
    PatientFactory(family_name="Abbot", given_name="Ann", phone="+6141")
    PatientFactory(family_name="Nash", given_name="Ed", phone="+14125550100")


PHONE_TERMS = [
    # 4, 5, 6 and 7 digits typed, as reception types them and in "+61..." forms
    "0412",
    "412",
    "61412",
    "+61412",
    "+61 412",
    "(04) 12",
    "041",
    "0410",
    "04120",
    "041200",
    "+614120",
    "0413",
    "0419",
    # Medicare numbers, whole and in part
    "041210",
    "041200000",
    "0412100003",
    "2123",
]


@pytest.mark.parametrize("include_archived", [True, False])
@pytest.mark.parametrize("term", PHONE_TERMS)
def test_a_phone_or_medicare_search_finds_what_the_queryset_finds_in_its_order(
    term, include_archived
):
    # Given numbers sharing each length of prefix, and names tied but for case or id
    make_phone_patients()
    listed = patient_list(user=None, include_archived=include_archived)  # type: ignore[arg-type]
    matched = patient_search(listed.values(*PATIENT_LIST_COLUMNS), term)
    total = matched.count()

    # When the search is read branch by branch, page after page
    branches = patient_list_search(user=None, term=term, include_archived=include_archived)  # type: ignore[arg-type]
    assert branches is not None

    # Then each page holds the queryset's rows in its order, and the count is its count
    for offset, limit in [(0, 26), (0, 3), (3, 3), (5, 4), (12, 26)]:
        page = branches.rows(
            offset=offset, limit=limit, columns=PATIENT_LIST_COLUMNS, count_cap=1_001
        )
        assert page.rows == list(matched[offset : offset + limit]), (offset, limit)
        assert page.count == (total if page.rows else None)
    capped = branches.rows(offset=0, limit=2, columns=PATIENT_LIST_COLUMNS, count_cap=3)
    assert capped.count == (min(3, total) if total else None)


@requires_postgres
@pytest.mark.parametrize("include_archived", [True, False])
@pytest.mark.parametrize(("offset", "limit"), [(0, 26), (25, 25), (975, 26), (3, 7)])
@pytest.mark.parametrize("count_cap", [1_001, None])
def test_a_prepared_page_kept_for_its_shape_is_the_page_written_afresh(
    include_archived, offset, limit, count_cap, monkeypatch
):
    # Given searches of every shape, each read after one of the same shape (its
    # statement's text kept, only its parameters worked out)
    terms = ["smi", "Jo", "john smith", "a b c d e", "0412", "+61412345678", "o'br 100%", "x_y"]
    sent: list[tuple[str, list[Any]]] = []
    monkeypatch.setattr(
        selectors,
        "fetch_all",
        lambda connection_, sql, params, **_: sent.append((sql, list(params))) or [],
    )
    for term in terms:
        branches = patient_list_search(user=None, term=term, include_archived=include_archived)  # type: ignore[arg-type]
        assert branches is not None and branches.prepared
        for _ in range(2):
            branches.rows(
                offset=offset, limit=limit, columns=PATIENT_LIST_COLUMNS, count_cap=count_cap
            )

        # Then the statement and its parameters are those written afresh for the term
        written = branches._prepared_rows(
            offset=offset, limit=limit, select=PATIENT_LIST_COLUMNS, count_cap=count_cap
        )
        assert sent[-2] == sent[-1] == (written[0], list(written[1])), term
