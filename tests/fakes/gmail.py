"""A local stand-in for Google's OAuth 2.0 endpoints and the Gmail API's send.

Speaks what integrations/gmail/ calls through google-auth and google-api-python-client
(integrations.md §4): the authorization endpoint redirects back with a code for whichever
account the test "signs in" as; the token endpoint exchanges codes and refresh tokens
(counting refreshes, optionally slowly, so concurrent refreshes would show); revoke forgets
a grant; `POST /gmail/v1/users/me/messages/send` checks the bearer token, decodes the
base64url RFC 2822 message and keeps it for the test to read.
"""

import base64
import email
import email.policy
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt

from tests.fakes._server import FakeServer

CLIENT_ID = "nexus-gmail-test.apps.googleusercontent.com"
CLIENT_SECRET = "gmail-test-secret"
SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"


@dataclass
class Grant:
    email: str
    refresh_token: str
    revoked: bool = False


@dataclass
class Sent:
    account: str
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class FakeGmail(FakeServer):
    next_email: str = "reception@clinic.example"
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (email, redirect)
    grants: dict[str, Grant] = field(default_factory=dict)  # refresh token -> grant
    access: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (email, expiry)
    sent: list[Sent] = field(default_factory=list)
    refreshes: int = 0
    refresh_delay: float = 0.0
    revoked: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settings(self) -> dict[str, Any]:
        return {
            "GOOGLE_OAUTH_CLIENT_ID": CLIENT_ID,
            "GOOGLE_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
            "GOOGLE_AUTH_URI": f"{self.url}/o/oauth2/v2/auth",
            "GOOGLE_TOKEN_URI": f"{self.url}/token",
            "GOOGLE_REVOKE_URI": f"{self.url}/revoke",
            "GMAIL_API_ENDPOINT": f"{self.url}/",
        }

    def reset(self) -> None:
        with self.lock:
            self.next_email = "reception@clinic.example"
            self.codes, self.grants, self.access = {}, {}, {}
            self.sent, self.revoked = [], []
            self.refreshes, self.refresh_delay = 0, 0.0

    def issue_tokens(self, email_address: str) -> dict[str, Any]:
        """Tokens for an account, as if its owner had just consented (no browser needed)."""
        refresh = "1//" + secrets.token_urlsafe(24)
        self.grants[refresh] = Grant(email=email_address, refresh_token=refresh)
        return self._access_token(email_address) | {"refresh_token": refresh}

    def revoke_grant(self, email_address: str) -> None:
        """The account's owner removed Nexus's access at Google."""
        with self.lock:
            for grant in self.grants.values():
                if grant.email == email_address:
                    grant.revoked = True

    @classmethod
    def start(cls) -> "FakeGmail":
        return cls().serve(_Handler)

    # --- endpoints ---------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if (
            query.get("client_id") != CLIENT_ID
            or query.get("response_type") != "code"
            or SEND_SCOPE not in query.get("scope", "").split()
        ):
            return 400, {}, {"error": "invalid_request"}
        code = "4/" + secrets.token_urlsafe(12)
        self.codes[code] = (self.next_email, query["redirect_uri"])
        back = urlencode({"code": code, "state": query.get("state", ""), "scope": query["scope"]})
        return 302, {"Location": f"{query['redirect_uri']}?{back}"}, b""

    def _access_token(self, account: str) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(24)
        self.access[token] = (account, time.time() + 3599)
        return {
            "access_token": token,
            "expires_in": 3599,
            "scope": f"openid https://www.googleapis.com/auth/userinfo.email {SEND_SCOPE}",
            "token_type": "Bearer",
        }

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {}, {"error": "invalid_client"}
        if form.get("grant_type") == "authorization_code":
            found = self.codes.pop(form.get("code", ""), None)  # codes work once
            if found is None or found[1] != form.get("redirect_uri"):
                return 400, {}, {"error": "invalid_grant", "error_description": "Bad Request"}
            account = found[0]
            refresh = "1//" + secrets.token_urlsafe(24)
            self.grants[refresh] = Grant(email=account, refresh_token=refresh)
            now = int(time.time())
            claims = {
                "iss": "https://accounts.google.com",
                "aud": CLIENT_ID,
                "sub": str(abs(hash(account))),
                "email": account,
                "email_verified": True,
                "iat": now,
                "exp": now + 3600,
            }
            id_token = jwt.encode(claims, "fake-gmail-signing-key-of-32-bytes!", algorithm="HS256")
            return (
                200,
                {},
                self._access_token(account)
                | {
                    "refresh_token": refresh,
                    "id_token": id_token,
                },
            )
        if form.get("grant_type") == "refresh_token":
            with self.lock:
                self.refreshes += 1
            time.sleep(self.refresh_delay)
            grant = self.grants.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked:
                return (
                    400,
                    {},
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            return 200, {}, self._access_token(grant.email)
        return 400, {}, {"error": "unsupported_grant_type"}

    def revoke(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        grant = self.grants.get(form.get("token", ""))
        if grant is None:
            return 400, {}, {"error": "invalid_token"}
        grant.revoked = True
        self.revoked.append(grant.email)
        return 200, {}, {}

    def send(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        account, expiry = self.access.get(token, ("", 0.0))
        if not account or expiry < time.time():
            return 401, {}, _error(401, "Request had invalid authentication credentials.")
        payload = json.loads(body or b"{}")
        try:
            raw = base64.urlsafe_b64decode(payload["raw"])
        except (KeyError, ValueError):
            return 400, {}, _error(400, "Invalid raw")
        sent = Sent(account=account, raw=raw)
        if sent.message["From"] != account:
            return 400, {}, _error(400, "Invalid From header")
        with self.lock:
            self.sent.append(sent)
            ident = f"18c{len(self.sent):013x}"
        return 200, {}, {"id": ident, "threadId": ident, "labelIds": ["SENT"]}


def _error(code: int, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": "invalidArgument"}],
            "status": "INVALID_ARGUMENT" if code == 400 else "UNAUTHENTICATED",
        }
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGmail

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/o/oauth2/v2/auth":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            self._send(*self.fake.authorize(query))
        else:
            self._send(404, {}, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        path = urlparse(self.path).path
        if path in ("/token", "/revoke"):
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            handler = self.fake.token if path == "/token" else self.fake.revoke
            self._send(*handler(form))
        elif path == "/gmail/v1/users/me/messages/send":
            self._send(*self.fake.send(self.headers, body))
        else:
            self._send(404, {}, {"error": "not_found"})

    def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
