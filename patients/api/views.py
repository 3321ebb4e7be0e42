from typing import Any, cast

from django.db.models import QuerySet
from django.http import QueryDict
from django_filters import rest_framework as filters
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.mixins import AuditedViewSetMixin
from nexus.api.filters import FilterSet, IdFilter
from nexus.api.pagination import COUNT_CAP, PageNumberPagination
from nexus.api.permissions import request_user
from nexus.api.throttling import AnonThrottle, SearchRateThrottle, UserThrottle
from nexus.api.viewsets import ReadCreateUpdateViewSet
from patients.api.serializers import (
    PATIENT_LIST_COLUMNS,
    CoordinatorSerializer,
    PatientRow,
    PatientSerializer,
    ReferrerSerializer,
    rows_representation,
)
from patients.models import Coordinator, Patient, Referrer
from patients.selectors import (
    PatientSearchBranches,
    RowsPage,
    patient_list,
    patient_list_rows,
    patient_list_search,
    patient_rows_page,
    patient_search,
    patient_search_branches,
)
from patients.services import patient_register, patient_update


class PatientFilter(FilterSet):
    search = filters.CharFilter(
        method="filter_search", label="Name, phone, email or Medicare number (prefix)"
    )

    home_clinic = IdFilter("home_clinic")
    referrer = IdFilter("referrer")
    coordinator = IdFilter("coordinator")

    class Meta:
        model = Patient
        fields = ["archived", "funding_type"]

    def filter_search(
        self, queryset: QuerySet[Patient], name: str, value: str
    ) -> QuerySet[Patient]:
        return patient_search(queryset, value)


# The parameters a search alone may come with: the page's, read by PatientPagination.
_PAGE_PARAMS = frozenset({"search", "page", "page_size"})


def _search_alone(params: QueryDict) -> str | None:
    """The term of a list filtered by `search` alone, given once, as PatientFilter's form
    cleans it (stripped; a NUL is a 400 there); None for any other list."""
    searched = params.getlist("search")
    if len(searched) != 1 or not params.keys() <= _PAGE_PARAMS:
        return None
    term = searched[0].strip()
    return term if term and "\x00" not in term else None


class PatientPagination(PageNumberPagination):
    """A search page and its count are read branch by branch (PatientSearchBranches), each
    branch from its own index, instead of sorting every match of the OR-ed branches:
    "smi" on 100k patients read ~2,500 rows for a page of 26.
    The plain list walks an index in order and stops early, so it reads its rows at once.
    """

    _search: tuple[QuerySet[Any], PatientSearchBranches | None] | None = None
    # The capped count read along with the page (patient_rows_page, branches.rows).
    _counted: int | None = None

    def read_as(self, queryset: QuerySet[Any], branches: PatientSearchBranches) -> None:
        """Read `queryset`'s page and count as `branches`, the search it stands for
        (PatientViewSet.filter_queryset)."""
        self._search = (queryset, branches)

    def _branches(self, queryset: QuerySet[Any]) -> PatientSearchBranches | None:
        if self._search is not None and self._search[0] is queryset:
            return self._search[1]
        # patient_search() orders what it filtered; an empty ?search= filters nothing.
        term = self.request.query_params.get("search", "")
        if not (term and queryset.query.order_by):
            return None
        # The page and the count read the same search: compile it once.
        self._search = (queryset, patient_search_branches(queryset, term))
        return self._search[1]

    def page_rows(self, queryset: QuerySet[Any], offset: int, limit: int) -> list[Any]:
        page: RowsPage | None
        if branches := self._branches(queryset):
            page = branches.rows(
                offset=offset,
                limit=limit,
                columns=PATIENT_LIST_COLUMNS,
                count_cap=COUNT_CAP + 1,
                row_type=PatientRow,
            )
        else:
            page = patient_rows_page(
                queryset, offset=offset, limit=limit, count_cap=COUNT_CAP + 1, row_type=PatientRow
            )
        if page is not None:
            self._counted = page.count
            return page.rows
        rows = super().page_rows(queryset, offset, limit)
        return [PatientRow(row) if isinstance(row, dict) else row for row in rows]

    def count_rows(self, queryset: QuerySet[Any], cap: int) -> int:
        if self._counted is not None and cap <= COUNT_CAP + 1:
            return min(self._counted, cap)
        if branches := self._branches(queryset):
            return branches.count(cap=cap)
        if queryset.query.values_select:
            # Counted by id alone, as a queryset of model instances is: a count of rows
            # read with values() would select (and compile) every listed column.
            queryset = queryset.values("id")
        return super().count_rows(queryset, cap)


class PatientViewSet(AuditedViewSetMixin, ReadCreateUpdateViewSet):
    queryset = Patient.objects.all()
    audit_patient_attr = "pk"
    throttle_classes = [AnonThrottle, UserThrottle, SearchRateThrottle]
    pagination_class = PatientPagination
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    scope_resource = "patients"

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        if all(type(row) is PatientRow for row in page):
            # What PatientSerializer(page, many=True).data gives, without DRF's list
            # serializer around it (rows_representation).
            return self.get_paginated_response(rows_representation(page))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_queryset(self) -> QuerySet[Patient]:
        user = request_user(self.request)
        if self.action == "list":
            # Rows, not model instances (PatientSerializer reads either): 25 Patient
            # objects cost more than the rest of the read, searched or not.
            return cast(
                QuerySet[Patient], patient_list_rows(user=user, columns=PATIENT_LIST_COLUMNS)
            )
        return patient_list(user=user)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """A list whose only filter is a search reads its page straight from the term
        (patient_list_search): the FilterSet's form built and validated, the search's
        queryset built, then its WHERE compiled again to write the branches' SQL, cost
        ~2 ms of an API search's ~7.5 ms of Python (issue 16). Any other list is filtered
        the ordinary way, which answers a bad parameter as it always has."""
        term = _search_alone(self.request.query_params) if self.action == "list" else None
        if term is not None:
            branches = patient_list_search(user=request_user(self.request), term=term)
            if branches is not None:
                cast(PatientPagination, self.paginator).read_as(queryset, branches)
                return queryset
        return super().filter_queryset(queryset)

    def perform_create(self, serializer: PatientSerializer) -> None:  # type: ignore[override]
        serializer.instance = patient_register(
            created_by=request_user(self.request),
            **serializer.validated_data,
        )

    def perform_update(self, serializer: PatientSerializer) -> None:  # type: ignore[override]
        serializer.instance = patient_update(
            patient=cast(Patient, serializer.instance), **serializer.validated_data
        )


class ReferrerViewSet(ReadCreateUpdateViewSet):
    queryset = Referrer.objects.order_by("name", "id")
    serializer_class = ReferrerSerializer
    scope_resource = "referrers"


class CoordinatorViewSet(ReadCreateUpdateViewSet):
    queryset = Coordinator.objects.order_by("name", "id")
    serializer_class = CoordinatorSerializer
    scope_resource = "coordinators"
