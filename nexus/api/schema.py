"""The OpenAPI schema view, with refusals in the API's own error shape."""

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    """/api/schema/: YAML (or JSON on request) for those allowed to read it.

    The schema renderers would also render a refusal, so an anonymous caller got its
    {"detail", "code"} body as YAML. Errors are JSON, as everywhere else in the API."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response
