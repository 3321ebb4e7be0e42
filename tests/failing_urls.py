"""The site's URLs and one whose view fails, for tests/test_logging.py."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from nexus.urls import urlpatterns as site


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom, name="boom"), *site]
