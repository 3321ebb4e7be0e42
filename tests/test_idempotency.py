"""Idempotency-Key on API writes (issue 12 item 11): a retry gets the first answer, never a
second booking or a 409; another body with the same key is 422; keys are per user or token,
last 24 hours, live in the database, and hold under concurrent duplicates."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken
from appointments.models import Appointment
from idempotency.models import IdempotencyKey
from tests.conftest import MONDAY, requires_postgres, sydney
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


def bearer(user) -> APIClient:
    _, raw = ApiToken.issue(user=user, name="client", scopes=["*:read", "*:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def booking(practice, patient, hour: int = 10) -> dict:
    return {
        "patient": patient.pk,
        "clinician": practice.clinician.pk,
        "clinic": practice.clinic.pk,
        "appointment_type": practice.consult.pk,
        "start": sydney(MONDAY, hour).isoformat(),
    }


def test_a_retried_booking_gets_the_first_answer_and_books_once(practice, patient, reception_user):
    client = bearer(reception_user)

    first = client.post(URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = client.post(URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Appointment.objects.count() == 1
    # Without the key a retry is a clash, which is what the client could not tell apart.
    assert client.post(URL, booking(practice, patient), format="json").status_code == 409


def test_the_same_key_with_another_body_is_422(practice, patient, reception_user):
    client = bearer(reception_user)
    client.post(URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    other = client.post(
        URL, booking(practice, patient, hour=11), format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Appointment.objects.count() == 1


def test_a_retried_transition_gets_the_first_answer(practice, patient, reception_user):
    client = bearer(reception_user)
    appointment = client.post(URL, booking(practice, patient), format="json").json()
    cancel = f"{URL}{appointment['id']}/cancel/"

    reason = {"reason": "Patient unwell"}
    first = client.post(cancel, reason, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")
    retry = client.post(cancel, reason, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    # Without the key the retry is refused: already cancelled.
    assert client.post(cancel, reason, format="json").status_code == 409


def test_keys_belong_to_one_user_or_token(practice, patient, reception_user, admin_user):
    bearer(reception_user).post(
        URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    # Another token's request with the same key is its own request: here, a clash.
    other = bearer(reception_user).post(
        URL, booking(practice, PatientFactory()), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert other.status_code == 409
    assert IdempotencyKey.objects.count() == 2


def test_a_key_is_forgotten_after_24_hours(practice, patient, reception_user):
    client = bearer(reception_user)
    client.post(URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="old")
    row = IdempotencyKey.objects.get()
    IdempotencyKey.objects.filter(pk=row.pk).update(
        created_at=row.created_at - timedelta(hours=24, minutes=1)
    )

    again = client.post(URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="old")

    assert again.status_code == 409  # Done again, not replayed: the slot is taken now.


def test_a_refused_request_is_not_remembered(practice, patient, reception_user):
    _, raw = ApiToken.issue(user=reception_user, name="reader", scopes=["*:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    refused = client.post(URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="x")

    assert refused.status_code == 403
    assert not IdempotencyKey.objects.exists()


def test_a_malformed_key_is_400(practice, patient, reception_user):
    response = bearer(reception_user).post(
        URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="has space"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"


def test_the_schema_documents_the_header(admin_api):
    schema = admin_api.get("/api/schema/", {"format": "json"}).json()

    create = schema["paths"]["/api/v1/appointments/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert "422" in create["responses"]
    cancel = schema["paths"]["/api/v1/appointments/{id}/cancel/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in cancel["parameters"]]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_book_once_and_get_the_same_answer(practice, reception_user):
    patient = PatientFactory()
    _, raw = ApiToken.issue(user=reception_user, name="client", scopes=["*:read", "*:write"])
    attempts = 8
    barrier = threading.Barrier(attempts)
    answers: list[tuple[int, dict]] = []

    def attempt() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        try:
            barrier.wait()
            response = client.post(
                URL, booking(practice, patient), format="json", HTTP_IDEMPOTENCY_KEY="burst"
            )
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Appointment.objects.count() == 1
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
