from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle

from nexus.client import client_ip


class _ClientAddress(BaseThrottle):
    """Anonymous callers are counted by the trusted client address (nexus/client.py). DRF's
    own get_ident believes X-Forwarded-For from any peer once NUM_PROXIES is set, so a
    client reaching a task directly could pick a fresh address for every request."""

    def get_ident(self, request: Request | HttpRequest) -> str:
        return client_ip(request)


class AnonThrottle(_ClientAddress, AnonRateThrottle):
    pass


class UserThrottle(_ClientAddress, UserRateThrottle):
    pass


class SearchRateThrottle(UserThrottle):
    """A tighter per-user limit on patient search, the easiest way to harvest records."""

    scope = "search"

    def allow_request(self, request: Request, view: Any) -> bool:
        if not request.query_params.get("search"):
            return True
        return super().allow_request(request, view)


class UploadRateThrottle(UserThrottle):
    """Uploads per user: each one costs storage, hashing and a scan of the bytes."""

    scope = "uploads"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)
