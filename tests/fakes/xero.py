"""A local stand-in for Xero's identity and Accounting API (integrations.md §3).

Speaks what the real `xero-python` SDK sends and expects back:

* `GET /identity/connect/authorize` redirects to `redirect_uri?code=…&state=…` (the admin
  clicking "Allow"); `POST /connect/token` exchanges a code (client credentials in a Basic
  header or in the body) or a refresh token for a token set; refresh tokens rotate, and a
  used one is refused with `400 {"error": "invalid_grant"}` as Xero does.
* `GET /Connections` lists the organisations the token may use; `DELETE /Connections/{id}`.
* Under `/api.xro/2.0`, with `Authorization: Bearer` and `xero-tenant-id`: `GET /Contacts`
  (`where=ContactNumber=="…"`), `GET /Contacts/{id}`, `PUT /Contacts`, `PUT /Invoices`
  (an `Idempotency-Key` seen before answers the first answer again and creates nothing),
  `GET /Invoices` (`If-Modified-Since`), `POST /Invoices/{id}` (void).
* Dates in `/Date(ms+0000)/` form. Validation errors as `400 ValidationException` with
  Xero's message. Rate limits per organisation: more than 60 calls in a minute or more than
  5 at once answer `429` with `Retry-After` and `X-Rate-Limit-Problem`, and are counted.

Binds 127.0.0.1 on a free port. The minute is measured on `clock`, which tests may share
with Nexus's rate limiter (a virtual clock) so that a 100-invoice run needs no real minutes.
"""

import base64
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes._server import FakeServer

CLIENT_ID = "nexus-xero-client"
CLIENT_SECRET = "nexus-xero-secret"
ACCESS_SECONDS = 1800
MINUTE_LIMIT = 60
CONCURRENT_LIMIT = 5
ACCOUNTING = "/api.xro/2.0"
TAX_RATES = {"EXEMPTOUTPUT": Decimal("0"), "OUTPUT": Decimal("0.10"), "NONE": Decimal("0")}


def ms_date(moment: datetime) -> str:
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _parse_ms_date(raw: str | None) -> datetime | None:
    match = re.match(r"/Date\((-?\d+)", raw or "")
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


@dataclass
class Tenant:
    tenant_id: str
    name: str
    connection_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class FakeXero(FakeServer):
    clock: Callable[[], float] = time.monotonic
    tenants: list[Tenant] = field(default_factory=list)
    item_codes: set[str] = field(default_factory=lambda: {"CONSULT", "INITIAL", "ORTHO"})
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # Every accounting call: (clock time, tenant, method, path, Idempotency-Key).
    calls: list[tuple[float, str, str, str, str]] = field(default_factory=list)
    refused_429: int = 0
    token_requests: Counter[str] = field(default_factory=Counter)
    peak_concurrent: int = 0
    peak_per_minute: int = 0
    # Test switches: answer 429 to the next n calls; process the next n invoice PUTs and
    # then drop the connection without answering (a lost response).
    throttle_next: int = 0
    retry_after: int = 1
    drop_next_invoice_answers: int = 0
    # Seconds each accounting call takes (real time): lets concurrency show.
    delay: float = 0.0
    _codes: dict[str, str] = field(default_factory=dict)
    _access: dict[str, float] = field(default_factory=dict)
    _refresh: set[str] = field(default_factory=set)
    _in_flight: Counter[str] = field(default_factory=Counter)
    _window: dict[str, deque[float]] = field(default_factory=dict)
    _numbers: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def start(cls) -> "FakeXero":
        fake = cls()
        fake.reset()
        return fake.serve(_Handler)

    def reset(self) -> None:
        with self._lock:
            self.clock = time.monotonic
            self.tenants = [Tenant(str(uuid.uuid4()), "Parramatta Podiatry Pty Ltd")]
            self.item_codes = {"CONSULT", "INITIAL", "ORTHO"}
            self.contacts, self.invoices, self.idempotency = {}, {}, {}
            self.calls, self.refused_429, self.token_requests = [], 0, Counter()
            self.peak_concurrent, self.peak_per_minute = 0, 0
            self.throttle_next, self.retry_after, self.drop_next_invoice_answers = 0, 1, 0
            self.delay = 0.0
            self._codes, self._access, self._refresh = {}, {}, set()
            self._in_flight, self._window = Counter(), {}

    def settings(self) -> dict[str, Any]:
        """The Django settings that point Nexus at this fake."""
        return {
            "XERO_CLIENT_ID": CLIENT_ID,
            "XERO_CLIENT_SECRET": CLIENT_SECRET,
            "XERO_AUTHORIZE_URL": f"{self.url}/identity/connect/authorize",
            "XERO_TOKEN_URL": f"{self.url}/connect/token",
            "XERO_API_URL": self.url,
        }

    # --- what tests read and do -------------------------------------------------------

    def issue_tokens(self, *, expires_in: int = ACCESS_SECONDS) -> dict[str, Any]:
        """A token set as the code exchange would give (for tests that start connected)."""
        with self._lock:
            return self._token_set(expires_in)

    def invoice_puts(self) -> list[tuple[float, str, str, str, str]]:
        return [c for c in self.calls if c[2] == "PUT" and c[3] == "/Invoices"]

    def pay(self, invoice_id: str, *, amount: Decimal | None = None) -> None:
        """Someone records a payment in Xero."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            paid = amount if amount is not None else Decimal(str(invoice["AmountDue"]))
            invoice["AmountPaid"] = float(_money(Decimal(str(invoice["AmountPaid"])) + paid))
            invoice["AmountDue"] = float(_money(Decimal(str(invoice["Total"])) - paid))
            if invoice["AmountDue"] <= 0:
                invoice["Status"] = "PAID"
                invoice["FullyPaidOnDate"] = ms_date(datetime.now(UTC))
            invoice["UpdatedDateUTC"] = ms_date(datetime.now(UTC))
            invoice["_updated"] = datetime.now(UTC)

    def void(self, invoice_id: str) -> None:
        with self._lock:
            invoice = self.invoices[invoice_id]
            invoice["Status"] = "VOIDED"
            invoice["UpdatedDateUTC"] = ms_date(datetime.now(UTC))
            invoice["_updated"] = datetime.now(UTC)

    # --- identity ----------------------------------------------------------------------

    def _token_set(self, expires_in: int = ACCESS_SECONDS) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._access[access] = time.time() + expires_in
        self._refresh.add(refresh)
        return {
            "id_token": "not-checked",
            "access_token": access,
            "expires_in": expires_in,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": "offline_access accounting.transactions accounting.contacts",
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}, b"unauthorized_client"
        code = secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = query.get("redirect_uri", "")
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": target}, b""

    def token(self, form: dict[str, str], auth: str | None) -> tuple[int, Any]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if auth and auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return 400, {"error": "invalid_client"}
        grant = form.get("grant_type", "")
        with self._lock:
            self.token_requests[grant] += 1
            if grant == "authorization_code":
                redirect = self._codes.pop(form.get("code", ""), None)
                if redirect is None or redirect != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}
                return 200, self._token_set()
            if grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                if refresh not in self._refresh:
                    return 400, {"error": "invalid_grant"}
                self._refresh.discard(refresh)  # Xero rotates refresh tokens.
                return 200, self._token_set()
        return 400, {"error": "unsupported_grant_type"}

    def _bearer_ok(self, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        with self._lock:
            expiry = self._access.get(token)
        return expiry is not None and expiry > time.time()

    def connections(self) -> list[dict[str, Any]]:
        return [
            {
                "id": t.connection_id,
                "tenantId": t.tenant_id,
                "tenantName": t.name,
                "tenantType": "ORGANISATION",
                "createdDateUtc": "2026-11-01T09:00:00.0000000",
                "updatedDateUtc": "2026-11-01T09:00:00.0000000",
            }
            for t in self.tenants
        ]

    # --- rate limits -------------------------------------------------------------------

    def _admit(self, tenant: str) -> bool:
        """Count a call against its organisation's limits; False if it is over them."""
        with self._lock:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                self.refused_429 += 1
                return False
            now = self.clock()
            window = self._window.setdefault(tenant, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= MINUTE_LIMIT or self._in_flight[tenant] >= CONCURRENT_LIMIT:
                self.refused_429 += 1
                return False
            window.append(now)
            self._in_flight[tenant] += 1
            self.peak_per_minute = max(self.peak_per_minute, len(window))
            self.peak_concurrent = max(self.peak_concurrent, self._in_flight[tenant])
            return True

    def _done(self, tenant: str) -> None:
        with self._lock:
            self._in_flight[tenant] -= 1

    # --- accounting ----------------------------------------------------------------------

    def accounting(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        if not self._bearer_ok(headers):
            return 401, {}, {"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired"}
        tenant = headers.get("xero-tenant-id", "")
        if tenant not in {t.tenant_id for t in self.tenants}:
            return 403, {}, {"Title": "Forbidden", "Detail": "AuthenticationUnsuccessful"}
        if not self._admit(tenant):
            limit = {"Retry-After": str(self.retry_after), "X-Rate-Limit-Problem": "minute"}
            return 429, limit, {"Title": "Too Many Requests"}
        try:
            key = headers.get("Idempotency-Key", "")
            with self._lock:
                self.calls.append((self.clock(), tenant, method, path, key))
            if self.delay:
                time.sleep(self.delay)
            return self._route(method, path, query, headers, body, key)
        finally:
            self._done(tenant)

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes, key: str
    ) -> tuple[int, dict[str, str], Any]:
        payload = json.loads(body or b"{}")
        if method == "GET" and path == "/Contacts":
            return 200, {}, {"Contacts": self._find_contacts(query.get("where", ""))}
        if method == "GET" and path.startswith("/Contacts/"):
            contact = self.contacts.get(path.rsplit("/", 1)[1])
            if contact is None:
                return 404, {}, {"Title": "Not Found"}
            return 200, {}, {"Contacts": [contact]}
        if method == "PUT" and path == "/Contacts":
            return self._replayed(key) or self._remember(key, self._create_contacts(payload))
        if method == "PUT" and path == "/Invoices":
            return self._replayed(key) or self._remember(key, self._create_invoices(payload))
        if method == "GET" and path == "/Invoices":
            since = headers.get("If-Modified-Since")
            return 200, {}, {"Invoices": self._modified_invoices(since, query)}
        if method == "POST" and path.startswith("/Invoices/"):
            return self._update_invoice(path.rsplit("/", 1)[1], payload)
        return 404, {}, {"Title": "Not Found"}

    def _replayed(self, key: str) -> tuple[int, dict[str, str], Any] | None:
        with self._lock:
            if key and key in self.idempotency:
                status, answer = self.idempotency[key]
                return status, {}, answer
        return None

    def _remember(
        self, key: str, answer: tuple[int, dict[str, Any]]
    ) -> tuple[int, dict[str, str], Any]:
        status, body = answer
        with self._lock:
            if key and status == 200:  # a refused request may be sent again, corrected
                self.idempotency[key] = (status, body)
        return status, {}, body

    def _find_contacts(self, where: str) -> list[dict[str, Any]]:
        match = re.fullmatch(r'ContactNumber=="([^"]*)"', where.strip())
        with self._lock:
            if match:
                return [c for c in self.contacts.values() if c["ContactNumber"] == match[1]]
            return list(self.contacts.values()) if not where else []

    def _create_contacts(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        created = []
        for item in payload.get("Contacts", []):
            if not item.get("Name"):
                return _validation(item, "The contact name must be specified.")
            contact = {
                "ContactID": str(uuid.uuid4()),
                "ContactNumber": item.get("ContactNumber", ""),
                "ContactStatus": "ACTIVE",
                "Name": item["Name"],
                "EmailAddress": item.get("EmailAddress", ""),
                "IsCustomer": True,
                "UpdatedDateUTC": ms_date(datetime.now(UTC)),
                "HasValidationErrors": False,
            }
            with self._lock:
                self.contacts[contact["ContactID"]] = contact
            created.append(contact)
        return 200, {"Id": str(uuid.uuid4()), "Status": "OK", "Contacts": created}

    def _create_invoices(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        created = []
        for item in payload.get("Invoices", []):
            contact_id = (item.get("Contact") or {}).get("ContactID")
            if contact_id not in self.contacts:
                return _validation(item, "The contact must contain a valid ContactID.")
            lines = []
            for line in item.get("LineItems", []):
                code = line.get("ItemCode")
                if code and code not in self.item_codes:
                    return _validation(item, f"Item code '{code}' is not valid.")
                tax_type = line.get("TaxType", "NONE")
                if tax_type not in TAX_RATES:
                    return _validation(item, f"The TaxType code '{tax_type}' does not exist.")
                quantity = Decimal(str(line.get("Quantity", 1)))
                unit = Decimal(str(line.get("UnitAmount", 0)))
                amount = _money(quantity * unit)
                computed_tax = _money(amount * TAX_RATES[tax_type])
                given_tax = line.get("TaxAmount")
                tax = _money(Decimal(str(given_tax))) if given_tax is not None else computed_tax
                lines.append({**line, "LineAmount": float(amount), "TaxAmount": float(tax)})
            subtotal = sum((Decimal(str(x["LineAmount"])) for x in lines), Decimal(0))
            tax_total = sum((Decimal(str(x["TaxAmount"])) for x in lines), Decimal(0))
            now = datetime.now(UTC)
            invoice = {
                "Type": item.get("Type", "ACCREC"),
                "InvoiceID": str(uuid.uuid4()),
                "InvoiceNumber": item.get("InvoiceNumber") or f"INV-{next(self._numbers):04d}",
                "Reference": item.get("Reference", ""),
                "Contact": self.contacts[contact_id],
                "Date": item.get("Date") or ms_date(now),
                "DueDate": item.get("DueDate") or ms_date(now),
                "Status": item.get("Status", "DRAFT"),
                "LineAmountTypes": item.get("LineAmountTypes", "Exclusive"),
                "LineItems": lines,
                "SubTotal": float(_money(subtotal)),
                "TotalTax": float(_money(tax_total)),
                "Total": float(_money(subtotal + tax_total)),
                "AmountDue": float(_money(subtotal + tax_total)),
                "AmountPaid": 0.0,
                "CurrencyCode": "AUD",
                "UpdatedDateUTC": ms_date(now),
                "HasErrors": False,
                "_updated": now,
            }
            with self._lock:
                self.invoices[invoice["InvoiceID"]] = invoice
            created.append(_public(invoice))
        return 200, {"Id": str(uuid.uuid4()), "Status": "OK", "Invoices": created}

    def _modified_invoices(self, since: str | None, query: dict[str, str]) -> list[dict[str, Any]]:
        cutoff = _since(since) if since else None
        if cutoff is not None and cutoff.tzinfo is None:
            cutoff = cutoff.replace(tzinfo=UTC)
        ids = set(filter(None, query.get("IDs", "").split(",")))
        with self._lock:
            found = [
                _public(i)
                for i in self.invoices.values()
                if (cutoff is None or i["_updated"] > cutoff) and (not ids or i["InvoiceID"] in ids)
            ]
        page = int(query.get("page", "1") or 1)
        return found[(page - 1) * 100 : page * 100]

    def _update_invoice(self, invoice_id: str, payload: dict[str, Any]) -> tuple[int, dict, Any]:
        with self._lock:
            invoice = self.invoices.get(invoice_id)
            if invoice is None:
                return 404, {}, {"Title": "Not Found"}
            wanted = (payload.get("Invoices") or [{}])[0].get("Status")
            if wanted == "VOIDED":
                if invoice["AmountPaid"]:
                    status, body = _validation(
                        invoice, "This document cannot be voided as it has payments applied."
                    )
                    return status, {}, body
                invoice["Status"] = "VOIDED"
                invoice["_updated"] = datetime.now(UTC)
                invoice["UpdatedDateUTC"] = ms_date(invoice["_updated"])
            return 200, {}, {"Invoices": [_public(invoice)]}


def _since(raw: str) -> datetime:
    """If-Modified-Since as the SDK sends it (ISO 8601, UTC when naive) or as HTTP does."""
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return parsedate_to_datetime(raw)


def _public(invoice: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in invoice.items() if not k.startswith("_")}


def _validation(item: dict[str, Any], message: str) -> tuple[int, dict[str, Any]]:
    return 400, {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{**item, "ValidationErrors": [{"Message": message}]}],
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeXero
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            if not isinstance(body, bytes):
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _dispatch(self, method: str) -> None:
        parsed = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        body = self._body()
        path = parsed.path
        if method == "GET" and path == "/identity/connect/authorize":
            self._send(*self.fake.authorize(query))
            return
        if method == "POST" and path == "/connect/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            status, answer = self.fake.token(form, self.headers.get("Authorization"))
            self._send(status, {}, answer)
            return
        if path == "/Connections" and method == "GET":
            if not self.fake._bearer_ok(self.headers):
                self._send(401, {}, {"Title": "Unauthorized"})
                return
            self._send(200, {}, self.fake.connections())
            return
        if path.startswith("/Connections/") and method == "DELETE":
            connection_id = path.rsplit("/", 1)[1]
            with self.fake._lock:
                self.fake.tenants = [
                    t for t in self.fake.tenants if t.connection_id != connection_id
                ]
            self._send(204, {}, b"")
            return
        if path.startswith(ACCOUNTING + "/"):
            status, headers, answer = self.fake.accounting(
                method, path.removeprefix(ACCOUNTING), query, self.headers, body
            )
            if (
                method == "PUT"
                and path == ACCOUNTING + "/Invoices"
                and status == 200
                and self.fake.drop_next_invoice_answers > 0
            ):
                # Xero created it, but the answer never reaches Nexus.
                with self.fake._lock:
                    self.fake.drop_next_invoice_answers -= 1
                self.close_connection = True
                return
            self._send(status, headers, answer)
            return
        self._send(404, {}, {"Title": "Not Found"})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")
