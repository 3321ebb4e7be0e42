"""No patient data in logs (issue 12 item 7, security.md R14).

A patient with a unique name, mobile, Medicare number and email is searched for, booked and
edited through the staff pages, the API and online booking; then none of those markers may
appear in any log record (formatted as production formats it), in gunicorn's access line or
runserver's request line for those requests, or in a cookie.
"""

import importlib.util
import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from rest_framework.test import APIClient

from nexus.checks import refuse_unsafe_production
from nexus.logging import build_formatter
from tests.booking.conftest import listed  # noqa: F401
from tests.booking.test_online_booking import _post, first_slot
from tests.conftest import MONDAY, signed_in, sydney
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

GIVEN, FAMILY = "Quillonia", "Zebrowskavich"
MOBILE, MOBILE_LOCAL = "+61498765432", "0498765432"
MEDICARE = "2123456701"
EMAIL = "quillonia.zebrowskavich@example.com"
CANARIES = [GIVEN, FAMILY, MOBILE, MOBILE_LOCAL, "498765432", MEDICARE, EMAIL]


@pytest.fixture
def canary(db):
    return PatientFactory(
        given_name=GIVEN, family_name=FAMILY, phone=MOBILE, medicare_number=MEDICARE, email=EMAIL
    )


@pytest.fixture
def every_log_line(caplog):
    caplog.set_level(logging.DEBUG)
    formatter = build_formatter("json")

    def lines() -> str:
        return "\n".join(formatter.format(record) for record in caplog.records)

    return lines


def assert_no_canary(text: str) -> None:
    lowered = text.lower()
    leaked = [c for c in CANARIES if c.lower() in lowered]
    assert leaked == [], f"patient data in logs: {leaked}"


def gunicorn_access_line(path: str, query: str, tmp_path: Path) -> str:
    """The line gunicorn would write with the project's gunicorn.conf.py."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", Path(django_settings.BASE_DIR) / "gunicorn.conf.py"
    )
    assert spec is not None and spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    cfg = Config()
    cfg.set("access_log_format", conf.access_log_format)
    cfg.set("accesslog", str(tmp_path / "access.log"))
    logger = Logger(cfg)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://nexus.example.org{path}?{query}",
    }
    response = SimpleNamespace(
        status="200 OK", status_code=200, sent=1234, headers=[("X-Request-ID", "abc123")]
    )
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    logger.access(response, request, environ, timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    return (tmp_path / "access.log").read_text()


def test_searching_booking_and_editing_a_patient_logs_none_of_their_details(
    canary,
    listed,  # noqa: F811
    every_log_line,
    tmp_path,
    settings,
):
    settings.DEBUG = False
    staff = signed_in("practice_admin")
    api = APIClient()
    api.force_authenticate(UserFactory(role="reception"))
    clinician, clinic, consult = listed
    cookies: list[str] = []

    # Search: staff page (name, mobile, Medicare), the API, a typo that finds nothing.
    for term in (f"{GIVEN} {FAMILY}", MOBILE_LOCAL, MEDICARE, EMAIL, f"{FAMILY}x"):
        assert staff.get("/patients/", {"q": term}).status_code == 200
        assert api.get("/api/v1/patients/", {"search": term}).status_code == 200
    # Booking by staff, through the API.
    booked = api.post(
        "/api/v1/appointments/",
        {
            "patient": canary.pk,
            "clinician": clinician.pk,
            "clinic": clinic.pk,
            "appointment_type": consult.pk,
            "start": sydney(MONDAY, 10).isoformat(),
        },
        format="json",
    )
    assert booked.status_code == 201, booked.content
    # Online booking by the patient themselves.
    public = Client()
    online = _post(
        public,
        first_slot(public, clinician),
        given_name=GIVEN,
        family_name=FAMILY,
        phone=MOBILE_LOCAL,
        email=EMAIL,
    )
    assert online.status_code == 302
    cookies += [m.value for m in online.cookies.values()]
    # An edit, whose flash message names the patient.
    form = staff.get(f"/patients/{canary.pk}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(given_name=GIVEN, family_name=FAMILY, phone=MOBILE_LOCAL)
    saved = staff.post(f"/patients/{canary.pk}/edit/", data)
    assert saved.status_code == 302, saved.context["form"].errors if saved.context else ""
    assert "messages" not in saved.cookies  # Kept server-side, not in a readable cookie.
    cookies += [m.value for m in saved.cookies.values()]
    chart = staff.get(saved["Location"])
    assert f"Saved {GIVEN}" in chart.content.decode()  # The message still reaches the user.
    # A 404 with the name in the query string.
    staff.get("/patients/987654/", {"q": FAMILY})

    # What runserver and gunicorn would write for a search request.
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"GET /patients/?q={GIVEN}+{FAMILY} HTTP/1.1", "200", "5120"
    )
    access = gunicorn_access_line("/patients/", f"q={GIVEN}+{FAMILY}&phone={MOBILE}", tmp_path)

    assert "GET /patients/ HTTP/1.1" in access
    assert "GET /patients/?[redacted] HTTP/1.1" in every_log_line()
    assert_no_canary(every_log_line())
    assert_no_canary(access)
    assert_no_canary("\n".join(cookies))


def test_production_refuses_the_console_email_backend(settings):
    settings.DEBUG = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    assert "nexus.E001" in [e.id for e in run_checks()]
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        refuse_unsafe_production()

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert "nexus.E001" not in [e.id for e in run_checks()]
    refuse_unsafe_production()
