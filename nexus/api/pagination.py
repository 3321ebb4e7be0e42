from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

MAX_PAGE_SIZE = 100
# Counting past this many rows costs more than the page itself on large tables
# (reference/performance.md); beyond it `count` is null and `next` still works.
COUNT_CAP = 1_000


class PageNumberPagination(pagination.BasePagination):
    """`?page=` and `?page_size=` (≤ 100) with an exact count only where it is cheap.

    It fetches one row past the page to know whether there is a next page, and counts at
    most COUNT_CAP + 1 rows, so a list never runs an unbounded COUNT(*).
    """

    page_size = 25
    page_query_param = "page"
    page_size_query_param = "page_size"

    def _int_param(self, request: Request, name: str, default: int, maximum: int | None) -> int:
        try:
            value = int(request.query_params.get(name, default))
        except (TypeError, ValueError):
            return default
        value = max(value, 1)
        return min(value, maximum) if maximum else value

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        self.page_size = self._int_param(request, self.page_size_query_param, 25, MAX_PAGE_SIZE)
        self.page = self._int_param(request, self.page_query_param, 1, None)
        offset = (self.page - 1) * self.page_size
        rows = list(queryset[offset : offset + self.page_size + 1])
        self.has_next = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if self.page == 1 and not self.has_next:
            self.count: int | None = len(rows)
        else:
            capped = queryset.order_by()[: COUNT_CAP + 1].count()
            self.count = capped if capped <= COUNT_CAP else None
        return rows

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
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page, at most {MAX_PAGE_SIZE}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]


class CursorPagination(pagination.CursorPagination):
    """For collections that grow without bound (appointments, audit, messages): no COUNT."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering: tuple[str, ...] = ("start", "id")
