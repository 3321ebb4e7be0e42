"""Connecting Xero: OAuth 2.0 authorization code, the organisation, tokens at rest."""

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import pytest
import urllib3
from django.core.management import call_command
from django.db import connection as db_connection
from django.test import Client

from integrations.models import OAuthConnection
from integrations.oauth import oauth_fresh_token, oauth_tokens
from integrations.xero.client import token_refresh
from tests.conftest import requires_postgres
from tests.fakes.xero import Tenant
from tests.integrations.xero.conftest import expire_access_token

pytestmark = pytest.mark.django_db


def _authorize(location: str) -> str:
    """The admin clicks Allow at Xero: the fake answers with a redirect to the callback."""
    answer = urllib3.PoolManager().request("GET", location, redirect=False)
    assert answer.status == 302
    return answer.headers["Location"]


def test_connect_redirects_to_xero_with_the_contracted_parameters(admin_browser, fake_xero):
    response = admin_browser.get("/xero/connect/")

    assert response.status_code == 302
    target = urlparse(response["Location"])
    assert (
        f"{target.scheme}://{target.netloc}{target.path}"
        == fake_xero.settings()["XERO_AUTHORIZE_URL"]
    )
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "nexus-xero-client"
    assert query["redirect_uri"].endswith("/xero/oauth/callback/")
    assert query["scope"] == "offline_access accounting.transactions accounting.contacts"
    assert len(query["state"]) > 20


def test_the_callback_exchanges_the_code_and_uses_the_only_organisation(admin_browser, fake_xero):
    callback = _authorize(admin_browser.get("/xero/connect/")["Location"])

    response = admin_browser.get(callback.removeprefix("http://testserver"))

    assert response.status_code == 302
    connection = OAuthConnection.objects.get(provider="xero")
    assert connection.account_id == fake_xero.tenants[0].tenant_id
    assert connection.account_name == "Parramatta Podiatry Pty Ltd"
    assert connection.grant_id == fake_xero.tenants[0].connection_id
    assert fake_xero.token_requests["authorization_code"] == 1
    # Tokens are stored encrypted: the database never holds them in clear.
    tokens = oauth_tokens(connection)
    assert tokens.access_token not in connection.access_token
    assert tokens.refresh_token not in connection.refresh_token
    assert connection.access_token.startswith("fernet:")
    page = admin_browser.get("/xero/")
    assert "Connected to <strong>Parramatta Podiatry Pty Ltd</strong>" in page.content.decode()


def test_with_several_organisations_the_admin_picks_one(admin_browser, fake_xero):
    fake_xero.tenants.append(Tenant("tenant-b-0000", "Orthotics Trust"))
    callback = _authorize(admin_browser.get("/xero/connect/")["Location"])

    choose = admin_browser.get(callback.removeprefix("http://testserver"))
    assert choose.status_code == 200
    assert "Orthotics Trust" in choose.content.decode()
    assert not OAuthConnection.objects.exists()

    admin_browser.post("/xero/choose/", {"tenant": "tenant-b-0000"})
    assert OAuthConnection.objects.get().account_name == "Orthotics Trust"


def test_a_forged_state_connects_nothing(admin_browser, fake_xero):
    callback = _authorize(admin_browser.get("/xero/connect/")["Location"])
    forged = callback.replace("state=", "state=x")

    response = admin_browser.get(forged.removeprefix("http://testserver"))

    assert response.status_code == 302
    assert not OAuthConnection.objects.exists()
    assert fake_xero.token_requests["authorization_code"] == 0


def test_disconnect_tells_xero_and_forgets_the_tokens(admin_browser, xero_connected, fake_xero):
    response = admin_browser.post("/xero/disconnect/")

    assert response.status_code == 302
    assert not OAuthConnection.objects.exists()
    assert fake_xero.tenants == []  # DELETE /Connections/{id} reached Xero


def test_only_practice_admins_manage_xero(reception_user, fake_xero):
    client = Client()
    client.force_login(reception_user)

    assert client.get("/xero/connect/").status_code == 403
    assert client.get("/xero/sync/").status_code == 403


def test_an_expired_access_token_is_refreshed_once_and_stored_encrypted(xero_connected, fake_xero):
    expire_access_token(xero_connected)
    before = oauth_tokens(xero_connected)

    tokens = oauth_fresh_token(connection_id=xero_connected.pk, refresh=token_refresh)
    again = oauth_fresh_token(connection_id=xero_connected.pk, refresh=token_refresh)

    assert tokens.access_token != before.access_token
    assert again == tokens
    assert fake_xero.token_requests["refresh_token"] == 1
    stored = OAuthConnection.objects.get()
    assert stored.refresh_count == 1
    assert tokens.refresh_token not in stored.refresh_token


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_ten_workers_needing_a_refresh_at_once_refresh_once(fake_xero, xero_connected):
    # Given an access token that has lapsed and ten workers, each on its own connection
    expire_access_token(xero_connected)
    barrier = threading.Barrier(10)

    def work(_: int) -> str:
        try:
            barrier.wait()
            return oauth_fresh_token(
                connection_id=xero_connected.pk, refresh=token_refresh
            ).access_token
        finally:
            db_connection.close()

    # When they all ask for a token at the same moment
    with ThreadPoolExecutor(max_workers=10) as pool:
        tokens = list(pool.map(work, range(10)))

    # Then Xero saw one refresh (a second would have used a revoked refresh token) and
    # every worker holds the same new token
    assert fake_xero.token_requests["refresh_token"] == 1
    assert len(set(tokens)) == 1
    assert OAuthConnection.objects.get().refresh_count == 1


def test_rotating_keys_reencrypts_the_tokens(xero_connected, settings):
    from cryptography.fernet import Fernet

    from nexus import crypto

    before = oauth_tokens(xero_connected)
    new_key = Fernet.generate_key().decode()
    settings.NEXUS_ENCRYPTION_KEYS = [new_key, *settings.NEXUS_ENCRYPTION_KEYS]
    crypto.reset_keys()
    try:
        call_command("rotate_encryption_keys")
        settings.NEXUS_ENCRYPTION_KEYS = [new_key]
        crypto.reset_keys()
        assert oauth_tokens(OAuthConnection.objects.get()) == before
    finally:
        crypto.reset_keys()
