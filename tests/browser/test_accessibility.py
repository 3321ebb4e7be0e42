"""axe-core over every staff page a user can reach and the public pages, at desktop and
phone sizes, failing on moderate, serious or critical findings; and no staff page wider than
a phone. HTMX fragments (the chart's SMS and documents cards, the panel's SMS lines) are
checked inside the pages that load them.

axe-core is vendored (tests/browser/vendor, MPL-2.0, from the npm package `axe-core`) so a
fresh CI machine needs nothing beyond the package registries. It is evaluated through the
DevTools protocol, which the page's Content-Security-Policy does not govern, so the pages
are checked with their real CSP on. Swagger UI (/api/docs/) is third-party and not checked.
"""

import json
import os
from collections import Counter
from datetime import date

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page

from accounts.models import ApiToken
from appointments.links import appointment_link_token
from appointments.models import Appointment, OnlineBooking
from integrations.models import InboundMessage, Message
from notes.services import note_sign
from tests.browser import test_journeys
from tests.browser.conftest import HTMX_WATCH, screenshot, wait_for_htmx
from tests.browser.test_journeys import tomorrow_at
from tests.factories import (
    AppointmentFactory,
    ClinicalNoteFactory,
    DocumentFactory,
    PatientFactory,
    UserFactory,
)

clinic_day = test_journeys.clinic_day

AXE = os.path.join(os.path.dirname(__file__), "vendor", "axe-4.14.1.min.js")
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
FAILING = ("moderate", "serious", "critical")


@pytest.fixture
def practice(clinic_day):
    clinic, people, consult, _review = clinic_day
    ada = PatientFactory(given_name="Ada", family_name="Lovelace", date_of_birth=date(1985, 12, 10))
    booked = AppointmentFactory(
        patient=ada,
        clinician=people[0],
        clinic=clinic,
        appointment_type=consult,
        start=tomorrow_at(clinic, 9),
    )
    admin = UserFactory(role="practice_admin", full_name="Pat Admin")
    clinician = UserFactory(role="clinician", full_name="Mei Wang")
    reception = UserFactory(role="reception", full_name="Rita Front")
    note = ClinicalNoteFactory(patient=ada, author=clinician)
    note_sign(note=ClinicalNoteFactory(patient=ada, author=clinician), by=clinician)
    DocumentFactory(patient=ada)
    ApiToken.issue(user=reception, name="Reporting", scopes=["patients:read"])
    # Something on every list: an online booking to review, messages sent and failed, a reply.
    online = AppointmentFactory(
        patient=PatientFactory(given_name="Ada", family_name="Lovelace"),
        clinician=people[1],
        clinic=clinic,
        appointment_type=consult,
        start=tomorrow_at(clinic, 10),
        source=Appointment.Source.ONLINE,
    )
    OnlineBooking.objects.create(appointment=online, message="Left heel, mornings")
    for kind, status in [("reminder", "sent"), ("adhoc", "failed")]:
        Message.objects.create(
            kind=kind,
            to="+61412345678",
            body="See you tomorrow.",
            patient=ada,
            appointment=booked if kind == "reminder" else None,
            status=status,
            last_error="Insufficient credits",
        )
    InboundMessage.objects.create(
        from_number="+61412345678",
        body="Can I come later?",
        dedupe_key="r1",
        patient=ada,
        appointment=booked,
        outcome="other",
    )
    users = {"admin": admin, "clinician": clinician, "reception": reception}
    return clinic, people, booked, ada, users, note


def clinician_pages(practice) -> list[str]:
    note = practice[5]
    signed = note.patient.notes.get(status="signed")
    return [
        "/",
        f"/notes/{note.pk}/",
        f"/notes/{signed.pk}/",
        f"/notes/new/{note.patient_id}/",
        f"/patients/{note.patient_id}/",
        "/accounts/2fa/",
    ]


def staff_pages(practice) -> list[str]:
    clinic, people, booked, ada, _users, _note = practice
    day = (tomorrow_at(clinic, 9)).date().isoformat()
    return [
        "/",
        f"/calendar/?clinic={clinic.pk}&date={day}",
        f"/calendar/?clinic={clinic.pk}&date={day}&view=week",
        f"/calendar/book/?clinic={clinic.pk}&clinician={people[0].pk}",
        f"/calendar/appointments/{booked.pk}/",
        "/patients/?q=lov",
        f"/patients/{ada.pk}/",
        "/patients/new/",
        "/setup/clinicians/",
        f"/setup/clinicians/{people[0].pk}/",
        "/setup/clinicians/new/",
        "/setup/appointment-types/",
        "/setup/appointment-types/new/",
        f"/setup/appointment-types/{booked.appointment_type_id}/",
        "/setup/users/",
        "/setup/users/invite/",
        f"/setup/users/{_users['reception'].pk}/",
        "/setup/tokens/",
        "/setup/tokens/new/",
        f"/calendar/sheet/?clinic={clinic.pk}&date={day}",
        f"/patients/{ada.pk}/edit/",
        "/messages/",
        "/messages/inbox/",
        "/messages/templates/",
        "/online-bookings/",
        "/audit/",
        f"/audit/patients/{ada.pk}/",
        "/accounts/2fa/",
        "/accounts/password/change/",
    ]


def public_pages(practice) -> list[str]:
    _clinic, people, booked, *_ = practice
    token = appointment_link_token(appointment=booked)
    return [
        "/accounts/login/",
        "/accounts/password/reset/",
        "/book/",
        f"/book/{people[0].pk}/",
        f"/book/done/{token}/",
        f"/book/cancel/{token}/",
    ]


def anonymous(browser: Browser, live_server, viewport) -> Page:
    context = browser.new_context(
        base_url=live_server.url, viewport=viewport, locale="en-AU", timezone_id="Australia/Sydney"
    )
    context.add_init_script(HTMX_WATCH)
    page = context.new_page()
    page.on("pageerror", lambda exc: pytest.fail(f"script error: {exc}"))
    return page


def signed_in(browser: Browser, live_server, user, viewport) -> Page:
    """A browser context carrying a session for `user` (no sign-in form to walk through)."""
    client = Client()
    client.force_login(user)
    page = anonymous(browser, live_server, viewport)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return page


def axe_violations(page: Page) -> list[dict]:
    with open(AXE, encoding="utf-8") as source:
        page.evaluate(source.read())
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
            }));
        }"""
    )


def audit(page: Page, paths: list[str], size: str, found: dict[str, list[dict]]) -> None:
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.ok, path
        wait_for_htmx(page)
        found[f"{size} {path}"] = axe_violations(page)


def summary(found: dict[str, list[dict]]) -> str:
    impacts = Counter(v["impact"] for violations in found.values() for v in violations)
    rules = Counter(f"{v['impact']}:{v['id']}" for vs in found.values() for v in vs)
    return json.dumps({"by_impact": impacts, "by_rule": rules}, sort_keys=True)


def test_staff_and_public_pages_have_no_moderate_or_worse_axe_violations(
    browser: Browser, live_server, practice
):
    found: dict[str, list[dict]] = {}
    for size, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        for role, paths in [("admin", staff_pages), ("clinician", clinician_pages)]:
            staff = signed_in(browser, live_server, practice[4][role], viewport)
            audit(staff, paths(practice), f"{size} {role}", found)
            staff.context.close()
        public = anonymous(browser, live_server, viewport)
        audit(public, public_pages(practice), size, found)
        public.context.close()

    print("axe:", summary(found))
    failing = {
        page: [v for v in violations if v["impact"] in FAILING]
        for page, violations in found.items()
    }
    assert {page: vs for page, vs in failing.items() if vs} == {}


def test_no_staff_page_is_wider_than_a_phone(browser: Browser, live_server, practice):
    widths = {}
    for role, paths in [("admin", staff_pages), ("clinician", clinician_pages)]:
        page = signed_in(browser, live_server, practice[4][role], PHONE)
        for path in paths(practice):
            page.goto(path)
            wait_for_htmx(page)
            widths[path] = page.evaluate("document.documentElement.scrollWidth")
            if role == "admin" and path.startswith("/calendar/?") and "view=week" not in path:
                page.wait_for_selector(".calendar[data-ready]", state="attached")
                screenshot(page, "calendar-phone.png", full_page=False)
        page.context.close()

    assert {path: width for path, width in widths.items() if width > PHONE["width"]} == {}
