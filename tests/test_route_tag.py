"""`{% route %}` gives what `{% url %}` would, under a script prefix too."""

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import clear_script_prefix, reverse, set_script_prefix

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NAV_ROUTES = [
    "home",
    "appointments:calendar",
    "patients:index",
    "waitlist:index",
    "integrations:messages",
    "billing:index",
    "online_bookings:review",
    "clinicians:index",
    "audit:activity",
    "admin:index",
    "mfa_index",
    "account_logout",
]


def test_the_top_bar_links_every_page_a_practice_admin_may_open():
    client = Client()
    client.force_login(UserFactory(role="practice_admin", is_superuser=True, totp=True))

    page = client.get("/").content.decode()

    for name in NAV_ROUTES:
        assert f'="{reverse(name)}"' in page, name


def test_a_route_under_a_script_prefix_carries_the_prefix():
    template = Template("{% route 'patients:index' %} {% route 'home' as home %}{{ home }}")
    before = template.render(Context())
    set_script_prefix("/nexus/")
    try:
        prefixed = template.render(Context())
    finally:
        clear_script_prefix()

    assert before == "/patients/ /"
    assert prefixed == "/nexus/patients/ /nexus/"
