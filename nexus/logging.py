"""Structured logging with a request id on every line.

Log lines carry ids (request, user, object), never patient names or note text.
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty
from gunicorn.glogging import Logger as GunicornLogger

REQUEST_ID_HEADER = "X-Request-ID"
# A client may pass its own id so traces join up across systems; anything odd is replaced.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

PRE_CHAIN: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def build_formatter(output: str = "json") -> logging.Formatter:
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if output == "console"
        else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


_QUERY = re.compile(r"\?[^\s\"]*")


def redact_query_strings(text: str) -> str:
    """`GET /patients/?q=Ada HTTP/1.1` -> `GET /patients/?[redacted] HTTP/1.1`."""
    return _QUERY.sub("?[redacted]", text)


class RedactQueryStrings(logging.Filter):
    """Request lines logged by Django (runserver's `django.server`, `django.request`) lose
    their query strings: search terms are names, mobiles and Medicare numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("django.server", "django.request")):
            record.msg = redact_query_strings(record.getMessage())
            record.args = None
        return True


structlog.configure(
    processors=[*PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


class ClientErrorWithoutTraceback(logging.Filter):
    """Django logs every 403 and 404 with the exception that caused it; for a refusal the
    user meant to get (a missing page, a permission check) the stack trace is noise. Server
    errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class RequestIdMiddleware:
    """Give every request an id, bind it to the log context and echo it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response[REQUEST_ID_HEADER] = request_id
        return response


request_log = structlog.get_logger("nexus.request")
_request_logger = logging.getLogger("nexus.request")  # the standard logger request_log writes to


def request_route(request: HttpRequest) -> str:
    """The URL pattern's name ("booking:clinician", "patient-detail"), never the path:
    paths carry record ids, and a 404's path is whatever the visitor typed."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or "unnamed"
    if request.path_info.startswith(f"/{settings.STATIC_URL.lstrip('/')}"):
        return "static"  # answered by WhiteNoise before any URL pattern is tried
    return "unmatched"


def _user_id(request: HttpRequest) -> int | None:
    # Only a user something already looked up: loading one here would cost a session query
    # on requests that never needed it (probes, static files, the booking pages).
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if user.is_authenticated else None


class RequestLogMiddleware:
    """One JSON line per request (`http.request`: request id, user id, method, route,
    status, duration) and the same figures for /metrics. No path, query string, or form
    value: those carry names, mobiles and Medicare numbers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from nexus.metrics import http_request_observe

        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        route = request_route(request)
        status = response.status_code
        # structlog runs its processors (context, level, timestamp) before the standard
        # logger looks at the level: ~17 us a request for a line a WARNING level drops.
        if _request_logger.isEnabledFor(logging.WARNING if status >= 500 else logging.INFO):
            (request_log.warning if status >= 500 else request_log.info)(
                "http.request",
                method=request.method,
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 1),
                user_id=_user_id(request),
            )
        http_request_observe(
            route=route, method=str(request.method), status=status, seconds=seconds
        )
        return response


class GunicornJsonLogger(GunicornLogger):
    """gunicorn's access log as one JSON object a line, like the app's own logs (set by
    gunicorn.conf.py when NEXUS_ACCESS_LOG=json). The path only: no query string, referrer
    or user agent, which carry search terms (patient names, mobiles)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        request_id = next((v for k, v in headers if k.lower() == REQUEST_ID_HEADER.lower()), None)
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "event": "http.access",
            "timestamp": datetime.now(UTC).isoformat(),
            "level": "info",
            "logger": "gunicorn.access",
            "remote_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "request_id": request_id,
        }
        try:
            self.access_log.info(json.dumps(line))
        except Exception:  # gunicorn's own contract: a log failure never fails the request
            self.exception("access log line failed")
