"""Google's side of Gmail: the OAuth 2.0 endpoints and `users.messages.send`.

Every call goes through Google's own libraries (google-auth for the token endpoint,
google-api-python-client for Gmail), pointed at GOOGLE_TOKEN_URI and GMAIL_API_ENDPOINT so
tests can run them against a local fake. Tokens never reach a log line or an error text.
"""

from datetime import UTC
from typing import Any
from urllib.parse import urlencode

import google_auth_httplib2
import httplib2
import requests
from django.conf import settings
from google.auth import exceptions as google_exceptions
from google.auth import jwt
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from integrations.oauth import TokenSet

SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
# `openid email` as well, so the token answer carries an id_token naming the address.
SCOPES = f"openid email {SEND_SCOPE}"


class GmailError(Exception):
    """A call to Google that failed. `reconnect`: the grant is gone (revoked, expired) and
    only a person signing in again helps; `permanent`: retrying the same call cannot help."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        reconnect: bool = False,
        stale_token: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        # Gmail refused the access token: refresh it before the next attempt.
        self.stale_token = stale_token
        self.permanent = permanent
        self.reconnect = reconnect
        self.retry_after = retry_after


def configured() -> bool:
    return bool(settings.GOOGLE_OAUTH_CLIENT_ID)


def authorize_url(*, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            # A refresh token, and a fresh one each time (Google sends it on consent only).
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "false",
            "state": state,
        }
    )
    return f"{settings.GOOGLE_AUTH_URI}?{query}"


def exchange_code(*, code: str, redirect_uri: str) -> dict[str, Any]:
    """The authorization code for tokens (the token endpoint's JSON)."""
    response = requests.post(
        settings.GOOGLE_TOKEN_URI,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
            "client_secret": settings.GOOGLE_OAUTH_CLIENT_SECRET,
        },
        timeout=settings.GMAIL_TIMEOUT_SECONDS,
    )
    if response.status_code != 200:
        raise GmailError(f"Google refused the sign-in (HTTP {response.status_code}).")
    token: dict[str, Any] = response.json()
    if not token.get("access_token") or not token.get("refresh_token"):
        raise GmailError("Google answered without a refresh token.", permanent=True)
    if SEND_SCOPE not in str(token.get("scope", "")).split():
        raise GmailError("Permission to send email was not granted.", permanent=True)
    return token


def account_email(token: dict[str, Any]) -> str:
    """The address the grant belongs to, from the id_token. It came straight from the token
    endpoint over TLS, so its signature needs no check (OpenID Connect Core 3.1.3.7)."""
    claims = jwt.decode(token.get("id_token", ""), verify=False)
    if claims.get("aud") != settings.GOOGLE_OAUTH_CLIENT_ID or not claims.get("email"):
        raise GmailError("Google's answer did not name the account.", permanent=True)
    if claims.get("email_verified") is False:
        raise GmailError("That Google account's address is not verified.", permanent=True)
    return str(claims["email"]).lower()


def refresh(tokens: TokenSet) -> dict[str, Any]:
    """A new access token from the refresh token (google-auth's own refresh)."""
    credentials = Credentials(
        token=None,
        refresh_token=tokens.refresh_token,
        token_uri=settings.GOOGLE_TOKEN_URI,
        client_id=settings.GOOGLE_OAUTH_CLIENT_ID,
        client_secret=settings.GOOGLE_OAUTH_CLIENT_SECRET,
    )
    session = requests.Session()
    try:
        credentials.refresh(GoogleRequest(session=session))
    except google_exceptions.RefreshError as error:
        if not error.retryable and "invalid_grant" in str(error.args[:1]):
            raise GmailError(
                "Google says the account's grant was revoked or has expired; connect it again.",
                reconnect=True,
            ) from None
        raise GmailError("Google's token endpoint failed; will try again.") from None
    except google_exceptions.TransportError:
        raise GmailError("Google's token endpoint could not be reached.") from None
    finally:
        session.close()
    expiry = credentials.expiry.replace(tzinfo=UTC) if credentials.expiry else None
    return {
        "access_token": credentials.token,
        "refresh_token": credentials.refresh_token or "",
        "expires_at": expiry.timestamp() if expiry else None,
        "scope": " ".join(credentials.granted_scopes or []) or tokens.scopes,
    }


def revoke(token: str) -> None:
    response = requests.post(
        settings.GOOGLE_REVOKE_URI, data={"token": token}, timeout=settings.GMAIL_TIMEOUT_SECONDS
    )
    # 400 invalid_token: already revoked, which is what was wanted.
    if response.status_code not in (200, 400):
        raise GmailError(f"Google's revoke endpoint answered HTTP {response.status_code}.")


def send(*, access_token: str, raw: str) -> str:
    """`users.messages.send` with a base64url RFC 2822 message; answers Gmail's message id."""
    credentials = Credentials(token=access_token)
    http = google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(timeout=settings.GMAIL_TIMEOUT_SECONDS)
    )
    service = build(
        "gmail",
        "v1",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": settings.GMAIL_API_ENDPOINT},
    )
    try:
        answer = service.users().messages().send(userId="me", body={"raw": raw}).execute()
    except HttpError as error:
        raise _from_http_error(error) from None
    except google_exceptions.RefreshError:
        # Gmail answered 401 to a token Nexus thought fresh: refresh and try again later.
        raise GmailError("Gmail did not accept the access token.", stale_token=True) from None
    except (httplib2.HttpLib2Error, OSError):
        raise GmailError("Gmail could not be reached.") from None
    finally:
        http.http.close()
    return str(answer.get("id", ""))


def _from_http_error(error: HttpError) -> GmailError:
    code = error.status_code
    reason = f"Gmail answered HTTP {code}: {str(error.reason)[:200]}"
    if code == 429 or code >= 500:
        retry = error.resp.get("retry-after")
        return GmailError(reason, retry_after=float(retry) if retry and retry.isdigit() else None)
    if code == 403 and "ratelimit" in str(error.error_details).lower():
        return GmailError(reason)
    if code == 401:
        return GmailError(reason, stale_token=True)
    return GmailError(reason, permanent=True)
