from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken, User, hash_token

# Recording every use would add a write to every API request; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)
# Token, user and the user's permissions are cached together: without it every API request
# pays three queries before doing any work (docs/performance.md, "cached auth").
# Revoking a token clears its entry at once; a role change or deactivation applies within this.
CACHE_SECONDS = 60


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

        cache_key = ApiToken.cache_key(key_hash)
        token: ApiToken | None = cache.get(cache_key)
        stale = token is None
        if token is None:
            token = (
                ApiToken.objects.select_related("user")
                .filter(key_hash=key_hash, revoked_at__isnull=True, user__is_active=True)
                .first()
            )
            if token is None:
                raise exceptions.AuthenticationFailed("Invalid or revoked token.")
            token.user.get_all_permissions()  # Fills the user's permission cache, pickled along.

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
