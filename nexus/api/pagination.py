from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from nexus.errors import ValidationFailed

MAX_PAGE_SIZE = 100
# Far past any real list, and small enough that (page - 1) * page_size stays a valid SQL
# OFFSET: ?page=99999999999999999999 was a "bigint out of range" 500.
MAX_PAGE = 1_000_000
# Counting past this many rows costs more than the page itself on large tables
# (docs/performance.md); beyond it `count` is null and `next` still works.
COUNT_CAP = 1_000


def positive_int_param(request: Request, name: str, default: int) -> int:
    """A whole number from 1 in the query string, or 400 (not a silent default): `page=`
    with nothing after it is a client's mistake too, not a request for page 1."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ValidationFailed(f"{name} must be a whole number from 1.", field=name)
    return int(raw)


PAGE_SIZE_DESCRIPTION = (
    f"Results per page (default 25); values above {MAX_PAGE_SIZE} are treated as {MAX_PAGE_SIZE}."
)


class PageNumberPagination(pagination.BasePagination):
    """`?page=` and `?page_size=` with an exact count only where it is cheap.

    Both must be whole numbers from 1 (else 400). A page_size above 100 is clamped to 100
    (security.md R28), and the schema says so; a page past the end is an empty page.

    It fetches one row past the page to know whether there is a next page, and counts at
    most COUNT_CAP + 1 rows, so a list never runs an unbounded COUNT(*).
    """

    page_size = 25
    page_query_param = "page"
    page_size_query_param = "page_size"

    def _int_param(self, request: Request, name: str, default: int) -> int:
        return positive_int_param(request, name, default)

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        self.page_size = min(
            self._int_param(request, self.page_size_query_param, self.page_size), MAX_PAGE_SIZE
        )
        self.page = self._int_param(request, self.page_query_param, 1)
        if self.page > MAX_PAGE:
            raise ValidationFailed(f"page must be at most {MAX_PAGE}.", field=self.page_query_param)
        offset = (self.page - 1) * self.page_size
        rows = self.page_rows(queryset, offset, self.page_size + 1)
        self.has_next = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if self.page == 1 and not self.has_next:
            self.count: int | None = len(rows)
        else:
            capped = self.count_rows(queryset, COUNT_CAP + 1)
            self.count = capped if capped <= COUNT_CAP else None
        return rows

    def page_rows(self, queryset: QuerySet[Any], offset: int, limit: int) -> list[Any]:
        """The rows from `offset`, at most `limit` of them, in the queryset's order."""
        return list(queryset[offset : offset + limit])

    def count_rows(self, queryset: QuerySet[Any], cap: int) -> int:
        """How many rows the queryset has, counting at most `cap`."""
        return queryset.order_by()[:cap].count()

    def _url(self, page: int | None) -> str | None:
        if page is None:
            return None
        url = self.request.build_absolute_uri()
        if page == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, page)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "next": self._url(self.page + 1 if self.has_next else None),
                "previous": self._url(self.page - 1 if self.page > 1 else None),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "nullable": True,
                    "description": f"Exact up to {COUNT_CAP}; null when there are more.",
                },
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": f"Page number, from 1 to {MAX_PAGE}; past the end is empty.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": PAGE_SIZE_DESCRIPTION,
                "schema": {"type": "integer", "minimum": 1},
            },
        ]


class CursorPagination(pagination.CursorPagination):
    """For collections that grow without bound (appointments, audit, messages): no COUNT."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering: tuple[str, ...] = ("start", "id")

    def get_page_size(self, request: Request) -> int:
        return min(
            positive_int_param(request, self.page_size_query_param, self.page_size), MAX_PAGE_SIZE
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = PAGE_SIZE_DESCRIPTION
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
