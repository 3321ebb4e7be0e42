"""The top bar's links (`{% topnav %}`): rendered once per combination of links shown and
link marked current, and still following the user's permissions and page at once."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.template import Context, Template
from django.test import RequestFactory

from accounts.roles import CLINICIAN, PRACTICE_ADMIN, RECEPTION
from nexus.templatetags.topnav import _render
from tests.conftest import signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _nav(page: bytes) -> str:
    html = page.decode()
    return html[html.index('<nav class="topnav"') : html.index("</nav>")]


def test_a_link_granted_or_taken_away_shows_or_goes_on_the_very_next_page():
    user = UserFactory(role=CLINICIAN)
    client = signed_in(user)
    setup = Permission.objects.get(codename="change_clinician")
    assert 'href="/setup/clinicians/"' not in _nav(client.get("/").content)

    user.user_permissions.add(setup)
    shown = _nav(client.get("/").content)
    user.user_permissions.remove(setup)
    gone = _nav(client.get("/").content)

    assert 'href="/setup/clinicians/"' in shown
    assert 'href="/setup/clinicians/"' not in gone


def test_a_role_losing_a_permission_loses_the_link_on_its_next_page():
    client = signed_in(RECEPTION)
    reception = Group.objects.get(name=RECEPTION)
    patients = Permission.objects.get(codename="view_patient", content_type__app_label="patients")
    assert 'href="/patients/">Patients' in _nav(client.get("/").content)

    reception.permissions.remove(patients)

    assert 'href="/patients/">Patients' not in _nav(client.get("/").content)


def test_the_page_being_shown_is_the_one_marked_current():
    client = signed_in(UserFactory(role=PRACTICE_ADMIN, totp=True))

    home = _nav(client.get("/").content)
    patients = _nav(client.get("/patients/").content)
    setup = _nav(client.get("/setup/clinicians/").content)

    assert home.count('aria-current="page"') == 1
    assert '<a href="/" aria-current="page">Today</a>' in home
    assert patients.count('aria-current="page"') == 1
    assert '<a href="/patients/" aria-current="page">Patients</a>' in patients
    assert setup.count('aria-current="page"') == 1
    assert '<a href="/setup/clinicians/" aria-current="page">Setup</a>' in setup


def test_each_combination_is_rendered_once_and_then_reused():
    _render.cache_clear()
    first, second = signed_in(RECEPTION), signed_in(RECEPTION)

    first.get("/")
    second.get("/")
    first.get("/patients/")

    info = _render.cache_info()
    assert (info.misses, info.hits) == (2, 1)


def test_without_a_request_or_permissions_only_today_is_linked():
    # As the template did: a missing `request` is no page, missing `perms` no permission.
    template = Template("{% load topnav %}{% topnav %}")
    user = UserFactory(role=PRACTICE_ADMIN)

    bare = template.render(Context({"user": user}))
    request = RequestFactory().get("/waitlist/board/")
    waitlist = template.render(Context({"user": user, "request": request}))

    assert bare.count("<a ") == 1 and 'href="/"' in bare and "aria-current" not in bare
    assert waitlist.count("<a ") == 1 and "aria-current" not in waitlist
