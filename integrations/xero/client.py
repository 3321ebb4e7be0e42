"""The only code that speaks Xero's protocol, through the `xero-python` SDK.

One `XeroClient` per connected organisation. The SDK's token getter reads the tokens from
the database and refreshes them single-flight (integrations/oauth.py); its saver writes
them back. Hosts come from settings (XERO_TOKEN_URL, XERO_API_URL), so tests run the real
SDK against a local fake. urllib3's own retries are switched off: a retried call must wait
for its slot like any other (limiter.py), and 429s are answered here, once, correctly.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog
import urllib3
from django.conf import settings
from xero_python.accounting import AccountingApi
from xero_python.accounting.models import Contact, Contacts, Invoices, LineAmountTypes, LineItem
from xero_python.accounting.models import Invoice as XeroInvoice
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import ApiException, HTTPStatusException
from xero_python.identity import IdentityApi

from integrations.models import OAuthConnection
from integrations.oauth import TokenSet, oauth_fresh_token, oauth_save_refreshed, oauth_tokens
from integrations.xero import limiter

log = structlog.get_logger(__name__)

T = TypeVar("T")
SCOPES = "offline_access accounting.transactions accounting.contacts"
# Waiting out this many 429s in one go; after that the outbox retries the row later.
MAX_RATE_LIMIT_WAITS = 3
# A Retry-After longer than this (the daily limit) is not waited out in a worker.
MAX_INLINE_WAIT = 120.0


class XeroError(Exception):
    """A Xero call that did not work. `permanent`: Xero refused the content (a validation
    error); trying again unchanged cannot help. `retry_after`: seconds Xero asked for."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class XeroLine:
    description: str
    quantity: int
    unit_amount: Decimal
    tax_amount: Decimal
    tax_type: str
    item_code: str


@dataclass(frozen=True)
class XeroInvoiceState:
    invoice_id: str
    number: str
    status: str
    total: Decimal
    total_tax: Decimal
    amount_paid: Decimal
    updated: datetime | None


def _api_client(
    getter: Callable[[], dict[str, Any]], saver: Callable[[dict[str, Any]], None]
) -> ApiClient:
    config = Configuration(
        oauth2_token=OAuth2Token(
            client_id=settings.XERO_CLIENT_ID, client_secret=settings.XERO_CLIENT_SECRET
        )
    )
    api_client = ApiClient(config, pool_threads=1)
    api_client.oauth2_token_getter(getter)
    api_client.oauth2_token_saver(saver)
    # No transparent retries (see the module docstring); a timeout instead of none.
    pool = api_client.rest_client.pool_manager
    pool.connection_pool_kw["retries"] = False
    pool.connection_pool_kw["timeout"] = urllib3.Timeout(total=settings.XERO_TIMEOUT_SECONDS)
    return api_client


def token_refresh(tokens: TokenSet) -> dict[str, Any]:
    """Ask XERO_TOKEN_URL for new tokens (the SDK's own refresh call, our URL)."""
    api_client = _api_client(tokens.as_sdk_dict, lambda token: None)
    token_api = TokenApi(api_client, settings.XERO_CLIENT_ID, settings.XERO_CLIENT_SECRET)
    # A class attribute in the SDK; set on the instance so only this call changes.
    token_api.refresh_token_url = settings.XERO_TOKEN_URL
    try:
        answer: dict[str, Any] = token_api.refresh_token(
            tokens.refresh_token, tokens.scopes.split()
        )
    except Exception as exc:
        raise XeroError(
            "Xero refused to renew access; a practice admin needs to connect Xero again.",
            permanent=False,
        ) from exc
    return answer


def exchange_code(*, code: str, redirect_uri: str) -> dict[str, Any]:
    """Authorization code → token set at XERO_TOKEN_URL (client credentials in Basic)."""
    http = urllib3.PoolManager(retries=False, timeout=settings.XERO_TIMEOUT_SECONDS)
    response = http.request(
        "POST",
        settings.XERO_TOKEN_URL,
        fields={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        encode_multipart=False,
        headers={
            **urllib3.make_headers(
                basic_auth=f"{settings.XERO_CLIENT_ID}:{settings.XERO_CLIENT_SECRET}"
            ),
            "Accept": "application/json",
        },
    )
    if response.status != 200:
        raise XeroError(f"Xero refused the sign-in (HTTP {response.status}).", permanent=True)
    answer: dict[str, Any] = json.loads(response.data)
    return answer


def connections_for(tokens: TokenSet) -> list[dict[str, str]]:
    """The organisations a fresh token set may use (GET XERO_API_URL/Connections)."""
    api_client = _api_client(tokens.as_sdk_dict, lambda token: None)
    found = IdentityApi(api_client, base_url=settings.XERO_API_URL).get_connections()
    return [
        {"id": str(c.id), "tenant_id": str(c.tenant_id), "name": c.tenant_name or ""} for c in found
    ]


def disconnect(connection: OAuthConnection) -> None:
    client = XeroClient(connection)
    if connection.grant_id:
        IdentityApi(client.api_client, base_url=settings.XERO_API_URL).delete_connection(
            connection.grant_id
        )


def _validation_message(error: ApiException) -> str:
    try:
        body = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        return f"Xero refused it (HTTP {error.status})."
    for element in body.get("Elements") or []:
        for problem in element.get("ValidationErrors") or []:
            if problem.get("Message"):
                return str(problem["Message"])
    return str(body.get("Message") or body.get("Detail") or f"HTTP {error.status}")


class XeroClient:
    def __init__(self, connection: OAuthConnection) -> None:
        self.connection_id = connection.pk
        self.tenant_id = connection.account_id
        self.rate_limit_waits = 0
        self.api_client = _api_client(self._token, self._save)
        self.accounting = AccountingApi(
            self.api_client, base_url=f"{settings.XERO_API_URL}/api.xro/2.0"
        )

    def _token(self) -> dict[str, Any]:
        return oauth_fresh_token(
            connection_id=self.connection_id, refresh=token_refresh
        ).as_sdk_dict()

    def _save(self, token: dict[str, Any]) -> None:
        oauth_save_refreshed(connection_id=self.connection_id, tokens=TokenSet.from_response(token))

    def _call(self, name: str, call: Callable[[], T]) -> T:
        """One call within the organisation's limits; 429s waited out (Retry-After)."""
        for _ in range(MAX_RATE_LIMIT_WAITS + 1):
            try:
                with limiter.xero_call_slot(self.tenant_id):
                    return call()
            except HTTPStatusException as error:
                if error.status != 429:
                    raise self._error(error) from error
                wait = float((error.headers or {}).get("Retry-After") or 60)
                limiter.xero_pause(self.tenant_id, wait)
                self.rate_limit_waits += 1
                log.warning("xero.rate_limited", call=name, retry_after=wait)
                if wait > MAX_INLINE_WAIT:
                    raise XeroError(
                        "Xero's daily limit is reached.", permanent=False, retry_after=wait
                    ) from error
            except ApiException as error:
                raise self._error(error) from error
            except urllib3.exceptions.HTTPError as error:
                raise XeroError(
                    f"Xero did not answer ({type(error).__name__}).", permanent=False
                ) from error
        raise XeroError(
            "Xero kept answering 429 Too Many Requests.", permanent=False, retry_after=60
        )

    @staticmethod
    def _error(error: ApiException) -> XeroError:
        if error.status == 400:
            return XeroError(_validation_message(error), permanent=True)
        if error.status in (401, 403):
            return XeroError(
                "Xero refused Nexus's access; a practice admin needs to connect Xero again.",
                permanent=False,
            )
        return XeroError(f"Xero answered HTTP {error.status}.", permanent=False)

    # --- contacts ------------------------------------------------------------------------

    def contact_exists(self, contact_id: str) -> bool:
        try:
            found = self._call(
                "get_contact", lambda: self.accounting.get_contact(self.tenant_id, contact_id)
            )
        except XeroError as error:
            if "HTTP 404" in error.reason:
                return False
            raise
        return bool(found.contacts)

    def contact_by_number(self, number: str) -> str | None:
        # An exact ContactNumber match, never a name search (two patients share names).
        where = f'ContactNumber=="{number}"'
        found = self._call(
            "get_contacts", lambda: self.accounting.get_contacts(self.tenant_id, where=where)
        )
        contacts = found.contacts or []
        return str(contacts[0].contact_id) if contacts else None

    def contact_create(self, *, name: str, number: str, email: str, key: str) -> str:
        contact = Contact(name=name, contact_number=number, email_address=email or None)
        created = self._call(
            "create_contacts",
            lambda: self.accounting.create_contacts(
                self.tenant_id, Contacts(contacts=[contact]), idempotency_key=key
            ),
        )
        return str(created.contacts[0].contact_id)

    # --- invoices ------------------------------------------------------------------------

    def invoice_create(
        self,
        *,
        contact_id: str,
        number: str,
        reference: str,
        issued: date,
        due: date,
        lines: list[XeroLine],
        key: str,
    ) -> XeroInvoiceState:
        invoice = XeroInvoice(
            type="ACCREC",
            contact=Contact(contact_id=contact_id),
            invoice_number=number,
            reference=reference,
            date=issued,
            due_date=due,
            status="AUTHORISED",
            line_amount_types=LineAmountTypes.EXCLUSIVE,
            line_items=[
                LineItem(
                    description=line.description,
                    # The SDK's types are floats; cents as floats are exact to 2^53.
                    quantity=float(line.quantity),
                    unit_amount=float(line.unit_amount),
                    tax_type=line.tax_type,
                    tax_amount=float(line.tax_amount),
                    item_code=line.item_code or None,
                    account_code=None if line.item_code else settings.XERO_SALES_ACCOUNT_CODE,
                )
                for line in lines
            ],
        )
        created = self._call(
            "create_invoices",
            lambda: self.accounting.create_invoices(
                self.tenant_id, Invoices(invoices=[invoice]), idempotency_key=key
            ),
        )
        return _state(created.invoices[0])

    def invoices_modified_since(
        self, since: datetime | None, *, page: int = 1
    ) -> list[XeroInvoiceState]:
        kwargs: dict[str, Any] = {"page": page, "where": 'Type=="ACCREC"'}
        if since is not None:
            kwargs["if_modified_since"] = since
        found = self._call(
            "get_invoices", lambda: self.accounting.get_invoices(self.tenant_id, **kwargs)
        )
        return [_state(invoice) for invoice in found.invoices or []]

    def invoice_void(self, invoice_id: str) -> XeroInvoiceState:
        change = XeroInvoice(status="VOIDED")
        updated = self._call(
            "update_invoice",
            lambda: self.accounting.update_invoice(
                self.tenant_id, invoice_id, Invoices(invoices=[change])
            ),
        )
        return _state(updated.invoices[0])


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _state(invoice: XeroInvoice) -> XeroInvoiceState:
    status = invoice.status
    return XeroInvoiceState(
        invoice_id=str(invoice.invoice_id),
        number=invoice.invoice_number or "",
        status=getattr(status, "value", status) or "",
        total=_decimal(invoice.total),
        total_tax=_decimal(invoice.total_tax),
        amount_paid=_decimal(invoice.amount_paid),
        updated=invoice.updated_date_utc,
    )


def client_for(connection: OAuthConnection) -> XeroClient:
    return XeroClient(connection)


def tokens_of(connection: OAuthConnection) -> TokenSet:
    return oauth_tokens(connection)
