from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken, User, hash_token
from nexus.api.throttling import UserCounts
from nexus.cache import get_and_count

# Recording every use would add a write to every API request; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)
# Token, user and the user's permissions are cached together: without it every API request
# pays three queries before doing any work (docs/performance.md, "cached auth").
# Revoking a token clears its entry at once; a role change or deactivation applies within this.
CACHE_SECONDS = 60
# Each token's owner, as the tokens this process authenticated: an owner never changes
# (ApiToken.save and a trigger refuse it), so the next request with the token can count its
# user's rate limits in the round trip that reads the token (UserCounts). Only tokens that
# authenticated get here; a process that has seen too many starts over.
_owners: dict[str, Any] = {}
_OWNERS_KEPT = 10_000


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` with tokens issued by `issue_api_token`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.")
        try:
            key_hash = hash_token(header[1].decode())
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc

        owner = _owners.get(key_hash)
        counts = UserCounts(request, owner) if owner is not None else None
        token: ApiToken | None
        cache_key = ApiToken.cache_key(key_hash)
        if counts is not None and counts.counters:
            token, counted = get_and_count(cache, cache_key, list(counts.counters.values()))
        else:
            token, counted = cache.get(cache_key), []
        stale = token is None
        if token is None:
            token = (
                ApiToken.objects.select_related("user")
                .filter(key_hash=key_hash, revoked_at__isnull=True, user__is_active=True)
                .first()
            )
            if token is None:
                if counts is not None:
                    counts.give_back()
                raise exceptions.AuthenticationFailed("Invalid or revoked token.")
            token.user.get_all_permissions()  # Fills the user's permission cache, pickled along.
        if counts is not None:
            if token.user_id == owner:
                counts.keep(request, counted)
            else:  # cannot happen while owners are immutable; the throttles count again
                counts.give_back()
        if len(_owners) >= _OWNERS_KEPT:
            _owners.clear()
        _owners[key_hash] = token.user_id

        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            token.last_used_at = now
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            stale = True
        if stale:
            cache.set(cache_key, token, CACHE_SECONDS)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
