"""HTMX requests that meet the sign-in page.

When a session ends (idle timeout, sign-out in another tab), `login_required` answers an
HTMX request with a redirect to the sign-in page; the browser follows it inside the XHR
and HTMX would put the whole sign-in page into the side panel. Instead, tell HTMX to load
the sign-in page as a full page, with `next` pointing back at the page the user was on
(HX-Current-URL), not at the partial they asked for.
"""

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


class HtmxLoginRedirectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code not in (301, 302):
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        if urlsplit(response["Location"]).path != login_path:
            return response
        answer = HttpResponse(status=204)
        answer["HX-Redirect"] = f"{login_path}?{urlencode({'next': _page(request)})}"
        for header in ("Cache-Control", "Vary"):
            if header in response:
                answer[header] = response[header]
        return answer


def _page(request: HttpRequest) -> str:
    """The page the user was looking at, as a local path, so signing in returns there."""
    current = request.headers.get("HX-Current-URL", "")
    if current and url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"
