"""The OAuth `state` both vendors' callbacks check (integrations/oauth.py)."""

import pytest

from integrations.models import OAuthConnection

pytestmark = pytest.mark.django_db

CALLBACKS = [
    ("gmail_oauth_state", "/gmail/oauth/callback/"),
    ("xero_oauth_state", "/xero/oauth/callback/"),
]


@pytest.mark.parametrize(("key", "callback"), CALLBACKS)
def test_a_state_that_is_not_ascii_is_refused_not_an_error(admin_browser, key, callback):
    session = admin_browser.session
    session[key] = "started-here"
    session.save()

    response = admin_browser.get(callback, {"code": "4/x", "state": "é-forged"})

    assert response.status_code == 302
    assert not OAuthConnection.objects.exists()


@pytest.mark.parametrize(("key", "callback"), CALLBACKS)
def test_a_wrong_state_uses_up_the_one_started(admin_browser, key, callback):
    session = admin_browser.session
    session[key] = "started-here"
    session.save()

    admin_browser.get(callback, {"code": "4/x", "state": "forged"})

    assert key not in admin_browser.session
