from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlparse

import pytest
import urllib3
from django.test import Client

from integrations.models import OAuthConnection
from tests.factories import UserFactory
from tests.fakes.gmail import FakeGmail


@pytest.fixture(scope="session")
def _gmail_server() -> Iterator[FakeGmail]:
    fake = FakeGmail.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_gmail(_gmail_server, settings) -> FakeGmail:
    """Google's fake, emptied, with Nexus's settings pointing at it."""
    _gmail_server.reset()
    for name, value in _gmail_server.settings().items():
        setattr(settings, name, value)
    return _gmail_server


@pytest.fixture
def admin_browser(db) -> Client:
    client = Client()
    client.force_login(UserFactory(role="practice_admin"))
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable[[], AbstractContextManager[Any]]:
    """Run what a block queues on commit (the outbox's hand-off) when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def sign_in_at_google(fake_gmail, committed) -> Callable[[Client, str], Any]:
    """Someone signed in to Nexus starts the connect flow, signs in at Google as `address`
    and Allows: the callback's response (Nexus's redirect back to Settings)."""

    def flow(browser: Client, address: str) -> Any:
        fake_gmail.next_email = address
        start = browser.get("/gmail/connect/")
        assert start.status_code == 302
        answer = urllib3.PoolManager().request("GET", start["Location"], redirect=False)
        assert answer.status == 302
        callback = urlparse(answer.headers["Location"])
        with committed():
            done = browser.get(f"{callback.path}?{callback.query}")
        assert done.status_code == 302
        return done

    return flow


@pytest.fixture
def connect(admin_browser, sign_in_at_google) -> Callable[[str], OAuthConnection]:
    """A practice admin connects an address: Nexus's redirect, Allow at Google, callback."""

    def connect_address(address: str) -> OAuthConnection:
        sign_in_at_google(admin_browser, address)
        return OAuthConnection.objects.get(provider="gmail", account_id=address)

    return connect_address
