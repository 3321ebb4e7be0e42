"""The messages API: send a patient an SMS (202), list and read the outbox."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEvent
from integrations.models import Message
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consenting(db):
    return PatientFactory(phone="+61412345678", sms_consent=True)


def test_staff_send_an_sms_and_get_202_with_the_message(
    reception_api, consenting, fake_sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = reception_api.post(
            f"/api/v1/patients/{consenting.pk}/sms/",
            {"body": "Your orthotics are ready."},
            format="json",
        )

    assert response.status_code == 202, response.json()
    data = response.json()
    assert {"id", "status", "patient", "channel", "kind", "created_at"} <= data.keys()
    assert (data["patient"], data["channel"], data["kind"]) == (consenting.pk, "sms", "adhoc")
    assert data["status"] in ("queued", "sent")
    assert Message.objects.get(pk=data["id"]).status == "sent"
    assert fake_sms.refs() == {str(data["id"]): 1}
    # Readable at the audit API as a disclosure of this patient.
    events = AuditEvent.objects.filter(patient=consenting, action="disclose")
    assert events.count() == 1
    from tests.factories import UserFactory

    auditor = APIClient()
    auditor.force_authenticate(UserFactory(role="practice_admin"))
    listed = auditor.get(
        "/api/v1/audit-events/", {"patient": consenting.pk, "action": "disclose"}
    ).json()["results"]
    assert [(e["object_id"], e["action"]) for e in listed] == [(str(data["id"]), "disclose")]


@pytest.mark.parametrize(
    ("patient_kwargs", "status", "code"),
    [
        ({"sms_consent": False}, 409, "sms_no_consent"),
        ({"sms_consent": True, "phone": "+61298765432"}, 400, "sms_no_mobile"),
        ({"sms_consent": True, "phone": ""}, 400, "sms_no_mobile"),
    ],
)
def test_no_consent_or_no_mobile_is_refused_and_nothing_queued(
    reception_api, patient_kwargs, status, code
):
    patient = PatientFactory(**patient_kwargs)

    response = reception_api.post(
        f"/api/v1/patients/{patient.pk}/sms/", {"body": "Hi"}, format="json"
    )

    assert response.status_code == status
    assert response.json()["code"] == code
    assert "detail" in response.json()
    assert not Message.objects.exists()


def test_bad_bodies_are_400(reception_api, consenting):
    url = f"/api/v1/patients/{consenting.pk}/sms/"
    assert reception_api.post(url, {}, format="json").status_code == 400
    assert reception_api.post(url, {"body": "   "}, format="json").status_code == 400
    assert reception_api.post(url, {"body": "x" * 800}, format="json").status_code == 400
    assert reception_api.post("/api/v1/patients/999999/sms/", {"body": "x"}).status_code == 404
    assert not Message.objects.exists()


def test_the_outbox_lists_with_filters_and_cursor_pages(reception_api, consenting):
    other = PatientFactory()
    for i in range(3):
        Message.objects.create(kind="adhoc", to="+61412345678", body=f"m{i}", patient=consenting)
    Message.objects.create(
        kind="reminder", to="+61412000000", body="r", patient=other, status="failed"
    )

    page = reception_api.get("/api/v1/messages/", {"page_size": 2}).json()
    assert set(page) == {"next", "previous", "results"}
    assert len(page["results"]) == 2
    assert page["next"]
    rest = reception_api.get(page["next"]).json()
    assert len(rest["results"]) == 2

    def ids(**query):
        return [m["id"] for m in reception_api.get("/api/v1/messages/", query).json()["results"]]

    assert len(ids(patient=consenting.pk)) == 3
    assert len(ids(status="failed")) == 1
    assert len(ids(kind="reminder")) == 1
    assert len(ids(channel="sms")) == 4
    assert reception_api.get("/api/v1/messages/", {"status": "nonsense"}).status_code == 400

    one = ids(status="failed")[0]
    detail = reception_api.get(f"/api/v1/messages/{one}/").json()
    assert (detail["status"], detail["patient"]) == ("failed", other.pk)


def test_tokens_need_the_messages_scopes(reception_user, consenting):
    _, read_only = ApiToken.issue(user=reception_user, name="r", scopes=["messages:read"])
    _, none = ApiToken.issue(user=reception_user, name="n", scopes=["patients:read"])
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert client.get("/api/v1/messages/").status_code == 200
    sent = client.post(f"/api/v1/patients/{consenting.pk}/sms/", {"body": "x"}, format="json")
    assert sent.status_code == 403

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {none}")
    assert client.get("/api/v1/messages/").status_code == 403
    assert not Message.objects.exists()


def test_anonymous_callers_cannot_send_or_read():
    client = APIClient()
    assert client.get("/api/v1/messages/").status_code in (401, 403)
    assert client.post("/api/v1/patients/1/sms/", {"body": "x"}).status_code in (401, 403)
