"""A token's scopes: `<resource>:write` implies `<resource>:read` (the README's example token,
`patients:read appointments:write`, books appointments and must be able to list them)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def bearer(user, *scopes: str) -> APIClient:
    _, raw = ApiToken.issue(user=user, name="test", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_readme_example_token_can_list_the_appointments_it_may_book(reception_user):
    client = bearer(reception_user, "patients:read", "appointments:write")

    assert client.get("/api/v1/appointments/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200


def test_write_everything_implies_read_everything(reception_user):
    client = bearer(reception_user, "*:write")

    assert client.get("/api/v1/patients/").status_code == 200


def test_read_never_implies_write_and_write_stays_per_resource(reception_user):
    client = bearer(reception_user, "patients:read", "appointments:write")

    created = client.post("/api/v1/patients/", {"given_name": "A", "family_name": "B"})

    assert created.status_code == 403
    assert client.get("/api/v1/referrers/").status_code == 403


@pytest.mark.parametrize(
    ("scopes", "resource", "action", "allowed"),
    [
        (["appointments:write"], "appointments", "read", True),
        (["appointments:write"], "appointments", "write", True),
        (["appointments:read"], "appointments", "write", False),
        (["appointments:write"], "patients", "read", False),
        (["*:write"], "patients", "read", True),
        (["*:read"], "patients", "write", False),
    ],
)
def test_allows(scopes, resource, action, allowed):
    assert ApiToken(scopes=scopes).allows(resource, action) is allowed
