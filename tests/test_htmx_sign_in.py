"""A session that ends while a page is open: HTMX requests are sent to the sign-in page
as a whole page (HX-Redirect), and signing in returns to the page the user was on."""

from urllib.parse import urlencode

import pytest
from django.test import Client

from tests.conftest import MONDAY

pytestmark = pytest.mark.django_db


def test_an_htmx_request_without_a_session_is_sent_to_sign_in_with_next(practice):
    # Given a calendar page whose session has ended
    page = f"http://testserver/calendar/?clinic={practice.clinic.pk}&date={MONDAY}&view=week"
    client = Client(headers={"HX-Request": "true", "HX-Current-URL": page})

    # When the page asks for a booking panel
    response = client.get("/calendar/book/", {"clinic": practice.clinic.pk})

    # Then HTMX is told to load the sign-in page, which returns to the calendar afterwards
    assert response.status_code == 204
    assert response.content == b""
    target = f"/calendar/?clinic={practice.clinic.pk}&date={MONDAY}&view=week"
    assert response["HX-Redirect"] == "/accounts/login/?" + urlencode({"next": target})


def test_an_htmx_post_without_a_session_is_not_followed_into_the_panel(practice):
    client = Client(headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/"})

    response = client.post("/calendar/appointments/1/status/", {"to": "arrived"})

    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"


def test_a_foreign_current_url_is_not_used_as_next(practice):
    client = Client(headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/x"})

    response = client.get("/calendar/book/")

    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"


def test_a_plain_request_still_gets_an_ordinary_redirect(practice):
    response = Client().get("/calendar/book/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/calendar/book/")
