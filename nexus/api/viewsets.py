from typing import Any

from rest_framework import mixins, viewsets

from nexus.api import lookup


class CompiledRetrieveMixin(viewsets.GenericViewSet[Any]):
    """A detail read by id whose SQL is compiled once when the view reads its model's
    default queryset (nexus/api/lookup.py); writes and other lookups are DRF's own."""

    def get_object(self) -> Any:
        url_kwarg = self.lookup_url_kwarg or self.lookup_field
        if self.action != "retrieve" or self.lookup_field != "pk" or url_kwarg not in self.kwargs:
            return super().get_object()
        queryset = self.filter_queryset(self.get_queryset())
        obj = lookup.get_object_or_404(queryset, self.kwargs[url_kwarg])
        self.check_object_permissions(self.request, obj)
        return obj


class ReadCreateUpdateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    CompiledRetrieveMixin,
):
    """GET list/detail, POST and PATCH. No PUT (partial updates only) and no DELETE:
    clinic records are archived or deactivated, never removed through the API."""

    http_method_names = ["get", "post", "patch", "head", "options"]
