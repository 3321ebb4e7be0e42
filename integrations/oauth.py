"""OAuth tokens kept in the database, encrypted, and refreshed single-flight.

Any vendor that holds OAuth tokens (Xero, Gmail) stores them in `OAuthConnection` through
`oauth_connection_save` and reads them through `oauth_fresh_token`. An access token lives
minutes; when it is about to lapse, exactly one caller refreshes it while every other caller
(threads, Celery workers) waits on the row lock and then reads the new token. Refreshing
twice at once is not harmless: providers that rotate refresh tokens (Xero does) revoke the
first new one when the old refresh token is used again, and the connection is lost.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from integrations.models import OAuthConnection
from nexus import crypto

log = structlog.get_logger(__name__)

# Refresh this long before the access token lapses, so a call never starts with a token
# that expires on the way (longer than the SDKs' own 60 s, so they never refresh behind us).
REFRESH_MARGIN = timedelta(minutes=2)


def oauth_state_new(session: SessionBase, *, key: str) -> str:
    """A fresh `state` for an authorization redirect, kept in the user's session under `key`."""
    state = secrets.token_urlsafe(24)
    session[key] = state
    return state


def oauth_state_matches(session: SessionBase, *, key: str, given: str) -> bool:
    """Whether a callback's `state` is the one this session started. The stored state is
    removed either way: a callback URL works once, so a replayed or forged one is refused."""
    state = session.pop(key, None)
    # Compared as bytes: compare_digest raises on a str that is not ASCII, and the given
    # state is whatever the query string held.
    return bool(state) and secrets.compare_digest(str(state).encode(), given.encode())


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scopes: str

    @classmethod
    def from_response(cls, token: dict[str, Any], *, now: datetime | None = None) -> "TokenSet":
        """From a token endpoint's JSON (`expires_in` seconds, or an `expires_at` stamp)."""
        now = now or timezone.now()
        if token.get("expires_at"):
            expires = datetime.fromtimestamp(float(token["expires_at"]), tz=UTC)
        else:
            expires = now + timedelta(seconds=int(token.get("expires_in") or 1800))
        scope = token.get("scope") or ""
        return cls(
            access_token=str(token["access_token"]),
            refresh_token=str(token.get("refresh_token") or ""),
            expires_at=expires,
            scopes=" ".join(scope) if isinstance(scope, list | tuple) else str(scope),
        )

    def as_sdk_dict(self) -> dict[str, Any]:
        """The token dictionary OAuth SDKs (xero-python) take from a token getter."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.timestamp(),
            "expires_in": max(0, int((self.expires_at - timezone.now()).total_seconds())),
            "token_type": "Bearer",
            "scope": self.scopes.split(),
        }


def oauth_tokens(connection: OAuthConnection) -> TokenSet:
    return TokenSet(
        access_token=crypto.decrypt(connection.access_token),
        refresh_token=crypto.decrypt(connection.refresh_token),
        expires_at=connection.expires_at,
        scopes=connection.scopes,
    )


def _store(connection: OAuthConnection, tokens: TokenSet) -> None:
    connection.access_token = crypto.encrypt(tokens.access_token)
    # Some providers answer a refresh without a new refresh token: keep the old one.
    if tokens.refresh_token:
        connection.refresh_token = crypto.encrypt(tokens.refresh_token)
    connection.expires_at = tokens.expires_at
    if tokens.scopes:
        connection.scopes = tokens.scopes


@transaction.atomic
def oauth_connection_save(
    *,
    provider: str,
    account_id: str,
    account_name: str,
    tokens: TokenSet,
    user: User | None,
    grant_id: str = "",
) -> OAuthConnection:
    """Connect (or reconnect) an account: its tokens replace any stored before."""
    connection = (
        OAuthConnection.objects.select_for_update()
        .filter(provider=provider, account_id=account_id)
        .first()
    ) or OAuthConnection(provider=provider, account_id=account_id)
    connection.account_name = account_name[:200]
    connection.grant_id = grant_id
    connection.connected_by = user
    _store(connection, tokens)
    connection.save()
    log.info("oauth.connected", provider=provider, connection_id=connection.pk)
    return connection


def oauth_save_refreshed(*, connection_id: int, tokens: TokenSet) -> None:
    """Store tokens an SDK refreshed on its own (its token saver)."""
    with transaction.atomic():
        connection = OAuthConnection.objects.select_for_update().get(pk=connection_id)
        _store(connection, tokens)
        connection.refreshed_at = timezone.now()
        connection.save()


def oauth_fresh_token(
    *,
    connection_id: int,
    refresh: Callable[[TokenSet], dict[str, Any]],
    now: Callable[[], datetime] = timezone.now,
) -> TokenSet:
    """The connection's tokens, refreshed first if the access token is about to lapse.

    `refresh` calls the provider's token endpoint with the current refresh token and
    answers its JSON. It runs while this transaction holds the row's lock, so it runs once
    however many callers arrive together; the others wait, then find the new token."""
    connection = OAuthConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise OAuthConnection.DoesNotExist("The connection was removed.")
    if connection.expires_at - REFRESH_MARGIN > now():
        return oauth_tokens(connection)  # The common case: no lock, no write.
    with transaction.atomic():
        # A write takes the lock on both databases: a row lock on PostgreSQL, and on
        # SQLite the database write lock (SELECT ... FOR UPDATE is a no-op there).
        OAuthConnection.objects.filter(pk=connection_id).update(refresh_count=F("refresh_count"))
        connection = OAuthConnection.objects.select_for_update().get(pk=connection_id)
        if connection.expires_at - REFRESH_MARGIN > now():
            return oauth_tokens(connection)  # Another caller refreshed while we waited.
        fresh = TokenSet.from_response(refresh(oauth_tokens(connection)), now=now())
        _store(connection, fresh)
        connection.refreshed_at = now()
        connection.refresh_count += 1
        connection.save()
        log.info("oauth.refreshed", provider=connection.provider, connection_id=connection.pk)
        return oauth_tokens(connection)


def oauth_rotate_keys() -> int:
    """Re-encrypt every stored token with the first NEXUS_ENCRYPTION_KEYS key."""
    rotated = 0
    with transaction.atomic():
        for connection in OAuthConnection.objects.select_for_update().order_by("pk"):
            connection.access_token = crypto.reencrypt(connection.access_token)
            connection.refresh_token = crypto.reencrypt(connection.refresh_token)
            connection.save(update_fields=["access_token", "refresh_token"])
            rotated += 1
    return rotated
