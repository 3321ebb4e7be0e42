from typing import Any

from rest_framework import mixins, viewsets


class ReadCreateUpdateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Any],
):
    """GET list/detail, POST and PATCH. No PUT (partial updates only) and no DELETE:
    clinic records are archived or deactivated, never removed through the API."""

    http_method_names = ["get", "post", "patch", "head", "options"]
