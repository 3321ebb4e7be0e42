"""How django-allauth signs staff in: invitation only, Google keyed on `sub`, MFA secrets
encrypted. allauth calls these adapters; nothing here patches allauth itself."""

import time
from datetime import UTC, datetime
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialLogin
from django.conf import settings
from django.http import Http404, HttpRequest
from django.shortcuts import render

from accounts.models import User
from accounts.services import INVITED_USER_SESSION_KEY, mfa_required
from audit.services import audit_login
from nexus import crypto
from nexus.client import client_ip


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The address a password attempt was for, whichever form sent it (AXES_USERNAME_CALLABLE)."""
    source = credentials or getattr(request, "data", request.POST)
    login = source.get("email") or source.get("username") or source.get("login")
    return login.strip().lower() if isinstance(login, str) else None


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's rate limits (sign-in failures per IP) key on the same trusted client
        # address as everything else: its own X-Forwarded-For reading counts proxies
        # without checking the connection came from one (NEXUS_TRUSTED_PROXIES).
        return client_ip(request)

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # A practice admin invites staff (accounts.services.user_invite); nobody signs up.
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """allauth asks for the password again before any second-factor page, and counts
        only that re-entry as recent, not the sign-in. A practice admin must set up an
        authenticator app straight after their first sign-in (accounts.middleware), so they
        were asked for the password twice within a minute. Within the reauthentication
        window of signing in, a user whose factors (if any) were all set up in this sign-in
        needs no second password; changing a factor they had before, or later, still does."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        if required and app == "allauth.mfa" and self._enrolling_just_after_sign_in():
            return False
        return required

    def _enrolling_just_after_sign_in(self) -> bool:
        request = self.request
        user = getattr(request, "user", None)
        if request is None or user is None or not user.is_authenticated:
            return False
        window = account_settings.REAUTHENTICATION_TIMEOUT
        times = [float(r.get("at", 0)) for r in get_authentication_records(request, user)]
        recent = [t for t in times if time.time() - t < window]
        if not recent:
            return False
        signed_in_at = datetime.fromtimestamp(min(recent), tz=UTC)
        return not Authenticator.objects.filter(user=user, created_at__lt=signed_in_at).exists()


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Google sign-in for staff who already have a Nexus account.

    An account is found by Google's `sub` (allauth's SocialAccount.uid, unique per
    provider), never by email. The first Google sign-in links `sub` to an account only
    through that person's invitation link, and only when Google vouches for the invited
    address. Every refusal is audited and answers 403.
    """

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def get_provider(
        self, request: HttpRequest, provider: str, client_id: str | None = None
    ) -> Any:
        # Without GOOGLE_CLIENT_ID there is no Google app: its sign-in addresses do not
        # exist here (404), rather than allauth's SocialApp.DoesNotExist as a 500.
        try:
            return super().get_provider(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as exc:
            raise Http404("This sign-in method is not set up.") from exc

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        claims = sociallogin.account.extra_data
        if claims.get("email_verified") is not True:
            self._refuse(request, "email_unverified")
        allowed = settings.NEXUS_GOOGLE_ALLOWED_DOMAINS
        if allowed and claims.get("hd") not in allowed:
            self._refuse(request, "domain_not_allowed")
        if sociallogin.is_existing:
            if not sociallogin.user.is_active:
                self._refuse(request, "account_inactive", sociallogin.user.pk)
            return
        user = self._invited_user(request)
        if user is None:
            self._refuse(request, "not_invited")
        elif str(claims.get("email", "")).lower() != user.email.lower():
            self._refuse(request, "email_differs_from_invitation", user.pk)
        elif SocialAccount.objects.filter(
            user=user, provider=sociallogin.account.provider
        ).exists():
            self._refuse(request, "another_google_account_linked", user.pk)
        else:
            sociallogin.connect(request, user)
            request.session.pop(INVITED_USER_SESSION_KEY, None)

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        # A bad state, a token for another audience, an expired token: allauth shows its
        # error page; the attempt goes on the record first.
        audit_login(
            request=request,
            user_id=None,
            succeeded=False,
            detail={"method": provider.id, "reason": str(error or "provider_error")[:40]},
        )

    @staticmethod
    def _invited_user(request: HttpRequest) -> User | None:
        pk = request.session.get(INVITED_USER_SESSION_KEY)
        return User.objects.filter(pk=pk, is_active=True).first() if pk else None

    @staticmethod
    def _refuse(request: HttpRequest, reason: str, user_id: int | None = None) -> None:
        audit_login(
            request=request,
            user_id=user_id,
            succeeded=False,
            detail={"method": "google", "reason": reason},
        )
        response = render(request, "account/google_refused.html", {"reason": reason}, status=403)
        raise ImmediateHttpResponse(response)


class MfaAdapter(DefaultMFAAdapter):
    """TOTP keys and recovery-code seeds are stored encrypted (nexus.crypto). Someone who
    must use a second factor cannot remove their authenticator app, only replace it."""

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        return authenticator.type != Authenticator.Type.TOTP or not mfa_required(authenticator.user)

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)
