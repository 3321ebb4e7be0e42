"""403, 404 and 500 pages: styled like the rest, with a way on, and no detail of what failed."""

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_a_styled_404_with_the_staff_navigation(desk):
    response = desk.get("/patients/999999/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in page
    assert 'class="topnav"' in page and "nexus.css" in page
    assert "No Patient matches" not in page and "Traceback" not in page


def test_a_forbidden_page_is_a_styled_403_that_says_who_to_ask(desk):
    response = desk.get("/setup/clinicians/")

    page = response.content.decode()
    assert response.status_code == 403
    assert "<h1>You can&#x27;t open this page</h1>" in page or "You can't open this page" in page
    assert "ask your practice manager" in page and 'href="/"' in page


def test_a_server_error_page_renders_without_context_and_leaks_nothing():
    request = RequestFactory().get("/anything/")

    response = server_error(request)

    page = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in page and 'href="/"' in page
    assert "Traceback" not in page and "Exception" not in page


def test_an_anonymous_404_on_the_public_site_links_to_booking(client):
    response = client.get("/book/999999/")

    assert response.status_code == 404
    assert 'href="/book/"' in response.content.decode()
