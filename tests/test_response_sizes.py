"""The main API lists stay lean (issue 16): a page of 25 rows is a fixed number of bytes a
row, not a payload that grows with each new field nobody asked to list. Sizes are asserted,
never times; the bounds leave room for a new column or two, not for nested objects."""

import pytest

from tests.test_query_counts import make_appointments, make_patients

pytestmark = pytest.mark.django_db

# (endpoint, how to make rows, most bytes a row may cost in a page of 25)
LISTS = [
    ("/api/v1/patients/", make_patients, 800),
    ("/api/v1/patients/?search=ada", lambda n: make_patients(n, given_name="Ada"), 800),
    ("/api/v1/appointments/", make_appointments, 520),
]


@pytest.mark.parametrize(("url", "make", "per_row"), LISTS, ids=[u for u, _, _ in LISTS])
def test_a_page_of_25_costs_a_bounded_number_of_bytes_a_row(admin_api, url, make, per_row):
    make(25)

    response = admin_api.get(url)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 25
    size = len(response.content)
    print(f"{url}: {size} bytes for 25 rows")
    assert size <= 25 * per_row, f"{url}: {size} bytes for 25 rows, budget {25 * per_row}"
