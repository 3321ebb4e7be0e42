"""The signed-in user and their permissions, cached between requests.

Without it every staff page pays three queries before its own work (the user, their own
permissions, their roles' permissions; docs/performance.md, "cached auth"). The session
still decides who is signed in: a cached user is only taken when the session's auth hash
matches it (so a password change or `user_sessions_end` signs sessions out as before), and
anything unusual goes through Django's own `get_user`.

Invalidation, so a change applies on the very next request: each entry carries the stamp
it was read under, and is taken only while the stamp is still current.
- A user's own version is renewed when the user is saved or deleted, their sessions are
  ended, they sign out, or their roles or own permissions change (`forget`).
- The generation every entry shares is renewed when a role's permissions change or a role
  or permission is saved or deleted (`forget_everyone`).
Both are renewed now and again after commit, and both are read before the user is: a
request that read the user just before a change committed and caches it just after leaves
an entry under the old stamp, which is never taken.
"""

import uuid
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.core.cache import DEFAULT_CACHE_ALIAS, cache
from django.db import transaction
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

CACHE_SECONDS = 300
_GENERATION_KEY = "authuser:generation"


def _key(user_id: Any) -> str:
    return f"authuser:{user_id}"


def _version_key(user_id: Any) -> str:
    return f"authuser:{user_id}:version"


def _generation() -> str:
    generation = cache.get(_GENERATION_KEY)
    if generation is None:
        cache.add(_GENERATION_KEY, uuid.uuid4().hex, None)
        generation = cache.get(_GENERATION_KEY)
    return str(generation)


def forget(user_id: Any) -> None:
    """Retire one user's entry, now and again after commit (a request may cache the old
    state while the change is still uncommitted). The version never expires: an expired
    one would make the stamp of an entry cached during the change current again."""
    key = _version_key(user_id)

    def renew() -> None:
        cache.set(key, uuid.uuid4().hex, None)

    renew()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(renew)


def forget_everyone() -> None:
    def renew() -> None:
        cache.set(_GENERATION_KEY, uuid.uuid4().hex, None)

    renew()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(renew)


# The user each session belonged to when this process last served it: the session's next
# request then reads the session and that user's cache entries in one round trip with the
# cache instead of two (issue 16). Only a hint; the session read decides who is signed in.
_SESSION_USERS_MAX = 10_000
_session_users: dict[str, str] = {}


def _read_session_with_user(session: SessionBase) -> tuple[str | None, dict[str, Any]]:
    """Load the session from the cache together with the entries of the user it last
    belonged to: (that user's id, the entries found), or (None, {}) when there is no hint
    or the session is not in the cache (then Django's own load() reads it as before)."""
    session_key = session.session_key
    user_id = _session_users.get(session_key) if session_key else None
    if (
        user_id is None
        or not isinstance(session, CachedDbSessionStore)
        or settings.SESSION_CACHE_ALIAS != DEFAULT_CACHE_ALIAS
        or hasattr(session, "_session_cache")  # already loaded
    ):
        return None, {}
    session_cache_key = session.cache_key
    found = cache.get_many(
        [session_cache_key, _key(user_id), _version_key(user_id), _GENERATION_KEY]
    )
    data = found.pop(session_cache_key, None)
    if data is None:
        return None, {}
    # What cached_db's load() returns on a cache hit, so the session is not read again.
    session._session_cache = data  # type: ignore[attr-defined]
    return user_id, found


def session_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """`django.contrib.auth.get_user`, served from the cache when the session's auth hash
    matches the cached user."""
    session = request.session
    hinted_user_id, prefetched = _read_session_with_user(session)
    user_id = session.get(SESSION_KEY)
    session_hash = session.get(HASH_SESSION_KEY)
    if (
        user_id is None
        or not session_hash
        or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS
    ):
        return auth.get_user(request)
    if session.session_key and _session_users.get(session.session_key) != user_id:
        if len(_session_users) >= _SESSION_USERS_MAX:
            _session_users.clear()
        _session_users[session.session_key] = user_id
    key, version_key = _key(user_id), _version_key(user_id)
    if user_id == hinted_user_id:
        found = prefetched
    else:
        found = cache.get_many([key, version_key, _GENERATION_KEY])
    entry, generation = found.get(key), found.get(_GENERATION_KEY)
    stamp = (generation, found.get(version_key))
    if entry is not None and generation is not None and entry[0] == stamp:
        cached: AbstractBaseUser = entry[1]
        if constant_time_compare(session_hash, cached.get_session_auth_hash()):
            return cached
    if generation is None:
        stamp = (_generation(), stamp[1])
    user = auth.get_user(request)
    if user.is_authenticated:
        # The permissions are loaded into the user's own caches and pickled along.
        user.get_all_permissions()
        cache.set(key, (stamp, user), CACHE_SECONDS)
    return user


def _cached_session_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    if not hasattr(request, "_cached_user"):
        request._cached_user = session_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware with `request.user` from `session_user`, looked up
    at once rather than lazily: SessionTimeoutMiddleware, next in MIDDLEWARE, asks every
    request for its user anyway, and a plain user object makes each later `request.user.…`
    (tens to hundreds a page, in views, templates and permission checks) an attribute read
    instead of a call through Django's lazy proxy (issue 16)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = _cached_session_user(request)  # type: ignore[assignment]


# Signal receivers (connected in AccountsConfig.ready): these changes are made by the
# admin, services, allauth and management commands alike.


def user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_delete of User, user_logged_out."""
    forget(instance.pk)


def user_signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        forget(user.pk)


def access_changed(sender: Any, **kwargs: Any) -> None:
    """A role's permissions, a role or a permission changed, or someone's roles or own
    permissions did (from either side of the relation): every cached user is reloaded.
    These are rare administrative changes."""
    action = kwargs.get("action")
    if action is None or action in ("post_add", "post_remove", "post_clear"):
        forget_everyone()
