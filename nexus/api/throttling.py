from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle


class SearchRateThrottle(UserRateThrottle):
    """A tighter per-user limit on patient search, the easiest way to harvest records."""

    scope = "search"

    def allow_request(self, request: Request, view: Any) -> bool:
        if not request.query_params.get("search"):
            return True
        return super().allow_request(request, view)


class UploadRateThrottle(UserRateThrottle):
    """Uploads per user: each one costs storage, hashing and a scan of the bytes."""

    scope = "uploads"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)
