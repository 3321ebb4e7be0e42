"""A local stand-in for Google's OAuth 2.0 / OpenID Connect endpoints.

Speaks the parts allauth's Google provider uses (integrations.md §5.2): the authorization
endpoint redirects back with a code; the token endpoint checks the client credentials,
the redirect URI and the PKCE verifier, and answers with an ID token whose claims each
test chooses; userinfo and the certificate list exist for completeness. allauth reaches
it through GOOGLE_OAUTH_BASE_URL, which must be set before Django loads: this module is
also a pytest plugin (`-p tests.fakes.google_oidc` in pyproject.toml) that starts the fake
and sets the variable ahead of pytest-django.
"""

import base64
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import pytest

from tests.fakes._server import FakeServer

CLIENT_ID = "nexus-test.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"


@dataclass
class _Grant:
    claims: dict[str, Any]
    redirect_uri: str
    code_challenge: str


@dataclass
class FakeGoogle(FakeServer):
    # The claims the next person to "sign in at Google" will carry; tests set these.
    next_claims: dict[str, Any] = field(default_factory=dict)
    grants: dict[str, _Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.url

    def provider_settings(self) -> dict[str, str]:
        return {
            "AUTHORIZE_URL": f"{self.base_url}/o/oauth2/v2/auth",
            "ACCESS_TOKEN_URL": f"{self.base_url}/token",
            "IDENTITY_URL": f"{self.base_url}/oauth2/v2/userinfo",
            "CERTS_URL": f"{self.base_url}/oauth2/v1/certs",
            "ID_TOKEN_ISSUER": "https://accounts.google.com",
        }

    def person(self, **claims: Any) -> dict[str, Any]:
        """Sign in at Google as this person: standard claims plus the given overrides."""
        now = int(time.time())
        self.next_claims = {
            "iss": "https://accounts.google.com",
            "aud": CLIENT_ID,
            "azp": CLIENT_ID,
            "sub": "110248495921238986420",
            "email": "someone@clinic.example",
            "email_verified": True,
            "name": "Someone Staff",
            "given_name": "Someone",
            "family_name": "Staff",
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        return self.next_claims

    def reset(self) -> None:
        self.next_claims, self.grants, self.token_requests = {}, {}, []

    @classmethod
    def start(cls) -> "FakeGoogle":
        return cls().serve(_Handler)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGoogle

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/o/oauth2/v2/auth":
            self._authorize(query)
        elif url.path == "/oauth2/v2/userinfo":
            self._json(200, self.fake.next_claims)
        elif url.path == "/oauth2/v1/certs":
            self._json(200, {})
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if urlparse(self.path).path != "/token":
            self._json(404, {"error": "not_found"})
            return
        self.fake.token_requests.append(form)
        self._token(form)

    def _authorize(self, query: dict[str, str]) -> None:
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            self._json(400, {"error": "invalid_request"})
            return
        code = "4/" + secrets.token_urlsafe(16)
        self.fake.grants[code] = _Grant(
            claims=dict(self.fake.next_claims),
            redirect_uri=query["redirect_uri"],
            code_challenge=query.get("code_challenge", ""),
        )
        back = {"code": code, "state": query.get("state", ""), "scope": query.get("scope", "")}
        self.send_response(302)
        self.send_header("Location", f"{query['redirect_uri']}?{urlencode(back)}")
        self.end_headers()

    def _token(self, form: dict[str, str]) -> None:
        grant = self.fake.grants.pop(form.get("code", ""), None)  # codes work once
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            self._json(401, {"error": "invalid_client"})
            return
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant.redirect_uri
            or _s256(form.get("code_verifier", "")) != grant.code_challenge
        ):
            self._json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return
        id_token = jwt.encode(
            grant.claims, "fake-google-signing-key-of-32-bytes", algorithm="HS256"
        )
        self._json(
            200,
            {
                "access_token": "ya29." + secrets.token_urlsafe(24),
                "expires_in": 3599,
                "scope": "openid https://www.googleapis.com/auth/userinfo.email",
                "token_type": "Bearer",
                "id_token": id_token,
            },
        )

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


running: FakeGoogle | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests() -> Any:
    # A wrapper runs before every plain implementation, pytest-django's set-up included.
    global running
    running = FakeGoogle.start()
    os.environ["GOOGLE_OAUTH_BASE_URL"] = running.base_url
    return (yield)
