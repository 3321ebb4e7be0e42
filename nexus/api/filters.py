import copy
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django_filters import Filter, utils
from django_filters import rest_framework as filters
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

from nexus.dates import EARLIEST_YEAR, LATEST_YEAR, in_supported_range

EARLIEST = datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(LATEST_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# The largest id a bigint primary key holds: past it the database refuses the comparison
# (a 500 on PostgreSQL), so the filter refuses it first with a 400.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """Filter on a foreign key's id without loading the related row.

    An id that names no row matches nothing: the list is empty, as clients expect of a
    filter, not a 400 (django-filter's ModelChoiceFilter validated each id with a query,
    answered `invalid_choice` for an unknown one and deep-copied its queryset per request).
    Ids are whole numbers from 1; anything else is a 400, and the schema says so.
    `many=True` is for a many-to-many field, compared through its join table.
    """

    field_class = forms.IntegerField

    def __init__(self, field_name: str, *, many: bool = False, **kwargs: Any) -> None:
        column = field_name if many else f"{field_name}_id"
        super().__init__(field_name=column, min_value=1, max_value=MAX_ID, **kwargs)


class FilterSet(filters.FilterSet):
    """django-filter's FilterSet, paying per request only for what depends on the request.

    django-filter deep-copies every declared filter and builds a new form class (each
    field's label looked up through the model's metadata) for every request: a fifth of a
    day-schedule read's CPU (issue 16). Neither depends on the request, so the form class
    is built once per FilterSet class, and each request gets shallow copies of the
    filters: enough for `model` and `parent` (which a `method=` filter resolves its
    method on) to be this request's own. Form instances still copy their fields.
    """

    _form_classes: ClassVar[dict[type, type[forms.Form]]] = {}

    def __init__(
        self,
        data: QueryDict | None = None,
        queryset: QuerySet[Any] | None = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: _own_copy(f) for name, f in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self

    def get_form_class(self) -> type[forms.Form]:
        form_class = self._form_classes.get(type(self))
        if form_class is None:
            form_class = self._form_classes[type(self)] = super().get_form_class()
        return form_class

    @classmethod
    def plain_lookups(
        cls, params: QueryDict, *, also: Collection[str] = ()
    ) -> list[tuple[str, Any]] | None:
        """The lookups `qs` would filter by for these query parameters, as (lookup, value)
        in the order it adds them, read without building a form: for a list that runs SQL
        it compiled once per set of lookups (appointments) rather than a queryset built
        and compiled per request (issue 16).

        None unless every parameter is one of this filterset's plain filters (a field and a
        lookup: no method, exclude or distinct) or named in `also`, given once, not empty,
        and valid. Each value is cleaned by the very form field the form would clean it
        with. Anything else goes the ordinary way, which answers it as it always has
        (a 400 naming the parameter, say)."""
        if cls.qs is not _BASE_QS or cls.filter_queryset is not _BASE_FILTER_QUERYSET:
            return None
        fields = cls._form_classes.get(cls) or cls().get_form_class()
        declared = cls.base_filters
        for name in params:
            if name not in declared and name not in also:
                return None
        lookups = []
        for name, filter_ in declared.items():
            raws = params.getlist(name)
            if not raws:
                continue
            if len(raws) > 1 or raws[0] == "" or not _plain(filter_):
                return None
            try:
                value = fields.base_fields[name].clean(raws[0])
            except ValidationError:
                return None
            if value in EMPTY_VALUES:
                continue  # as Filter.filter() leaves the queryset
            if isinstance(filter_, filters.ChoiceFilter) and value == filter_.null_value:
                return None
            lookups.append((f"{filter_.field_name}__{filter_.lookup_expr}", value))
        return lookups


def _plain(filter_: Filter) -> bool:
    """Whether the filter only adds `field_name__lookup_expr=value` to the queryset."""
    return (
        type(filter_).filter in _PLAIN_FILTER_METHODS
        and filter_.method is None
        and not filter_.exclude
        and not filter_.distinct
    )


_PLAIN_FILTER_METHODS = (Filter.filter, filters.ChoiceFilter.filter)


def _own_copy(filter_: Filter) -> Filter:
    clone = copy.copy(filter_)
    if filter_.method is not None:
        # A fresh FilterMethod: the copied one would call the method on the original
        # filter's parent, not this request's FilterSet.
        clone.method = filter_.method
    return clone


class FilterBackend(DjangoFilterBackend):
    """django-filter, strict about what the schema says a parameter holds.

    django-filter reads a boolean it does not recognise (`is_active=null`) and an empty
    value (`clinic=`, `status=`) as "no filter", so a client's typo silently returns the
    whole list. Here a boolean is `true` or `false`, and only free-text filters may be
    empty; anything else is a 400 naming the parameter."""

    filterset_base = FilterSet
    # A view's `filterset_fields` make DjangoFilterBackend declare a new FilterSet class
    # on every request (and so a new form class); one per view class is enough.
    _auto_filtersets: ClassVar[dict[type, type[FilterSet]]] = {}

    def get_filterset_class(
        self, view: APIView, queryset: QuerySet[Any] | None = None
    ) -> type[FilterSet] | None:
        if getattr(view, "filterset_class", None) or queryset is None:
            return super().get_filterset_class(view, queryset)
        auto = self._auto_filtersets.get(type(view))
        if auto is None:
            auto = super().get_filterset_class(view, queryset)
            if auto is None:
                return None
            self._auto_filtersets[type(view)] = auto
        return auto

    def filter_queryset(
        self, request: Request, queryset: QuerySet[Any], view: APIView
    ) -> QuerySet[Any]:
        if getattr(view, "action", None) == "retrieve":
            # One object by its id: the list's filters are not part of this route (the
            # schema documents none), and building their form cost every read ~0.3 ms.
            return queryset
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or _asks_nothing(filterset_class, request.query_params):
            return queryset
        # DjangoFilterBackend.filter_queryset, on the one filterset: building a second (as
        # calling super() did) deep-copies every filter and its form field again.
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        errors = _loose_values(filterset.filters, request.query_params)
        if errors:
            raise exceptions.ValidationError(errors)
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        return filterset.qs


def _asks_nothing(filterset_class: type[filters.FilterSet], params: QueryDict) -> bool:
    """Whether the filterset would hand the queryset back unchanged: no parameter that any
    of its filters reads (a range filter reads `<name>_min` and the like, hence the prefix),
    no required filter, and no filterset of its own ways (ClinicianFilter's `qs` adds a
    DISTINCT). Then its form, deep-copied field by field and validated, is not built: a
    tenth of an unfiltered list's CPU (issue 16)."""
    if filterset_class.qs is not _BASE_QS or (
        filterset_class.filter_queryset is not _BASE_FILTER_QUERYSET
    ):
        return False
    for name, filter_ in filterset_class.base_filters.items():
        if filter_.extra.get("required") or any(key.startswith(name) for key in params):
            return False
    return True


_BASE_QS = filters.FilterSet.qs
_BASE_FILTER_QUERYSET = filters.FilterSet.filter_queryset


def _loose_values(declared: dict[str, Filter], params: QueryDict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, filter_ in declared.items():
        for raw in params.getlist(name):
            if isinstance(filter_, filters.BooleanFilter) and raw not in ("true", "false"):
                errors[name] = ["Use true or false."]
            elif raw == "" and not isinstance(filter_, filters.CharFilter):
                errors[name] = ["Give a value, or leave the parameter out."]
    return errors


class _SupportedDateTimeField(IsoDateTimeField):
    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is None or in_supported_range(result):
            return result
        # A bound before or after every row Nexus can hold selects the same rows as the
        # first or last moment it supports; comparing the raw value overflowed into a 500
        # (9999-12-31T23:59:59-23:59). Any date-time the schema allows is accepted.
        return EARLIEST if result.year <= EARLIEST.year else LATEST


class AwareDateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter; bounds past the years Nexus supports are read as
    its first or last moment."""

    field_class = _SupportedDateTimeField
