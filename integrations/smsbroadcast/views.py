"""SMS Broadcast's webhooks: replies and delivery receipts.

SMS Broadcast signs nothing (integrations.md §1.6), so the URL carries a secret
(NEXUS_SMS_WEBHOOK_SECRET). A wrong secret is a plain 404 that changes nothing and leaves
only an audit event. Parameters arrive by GET (or POST); missing ones count as empty and
extra ones are ignored. The answer is 200 "OK" as soon as the row is written.
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from audit.models import AuditEvent
from audit.services import Target, audit_record
from integrations.smsbroadcast.services import sms_receipt_receive, sms_reply_receive

_FIELDS = ("to", "from", "message", "ref", "smsref", "msgref", "status")


def _secret_ok(request: HttpRequest, secret: str, hook: str) -> bool:
    expected = settings.NEXUS_SMS_WEBHOOK_SECRET
    if expected and hmac.compare_digest(secret.encode(), expected.encode()):
        return True
    # Never the secret tried or the parameters (a phone number, a message): ids only.
    audit_record(
        request=request,
        action=AuditEvent.Action.LOGIN_FAILED,
        targets=[Target("integrations.webhook", hook, None)],
        outcome=AuditEvent.Outcome.FAILURE,
        detail={"method": "sms_webhook", "reason": "wrong_secret"},
    )
    return False


def _params(request: HttpRequest) -> dict[str, str]:
    source = request.POST if request.method == "POST" else request.GET
    return {name: source.get(name, "")[:2000] for name in _FIELDS if name in source}


def _not_found() -> HttpResponse:
    return HttpResponse("Not found", status=404, content_type="text/plain")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound(request: HttpRequest, secret: str) -> HttpResponse:
    if not _secret_ok(request, secret, "sms_inbound"):
        return _not_found()
    sms_reply_receive(params=_params(request), request=request)
    return HttpResponse("OK", content_type="text/plain")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def status(request: HttpRequest, secret: str) -> HttpResponse:
    if not _secret_ok(request, secret, "sms_status"):
        return _not_found()
    sms_receipt_receive(params=_params(request), request=request)
    return HttpResponse("OK", content_type="text/plain")
