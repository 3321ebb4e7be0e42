"""One record by its primary key, without compiling the same SQL on every request.

Building the SQL of `Patient.objects.get(pk=…)` (31 columns, each quoted, its converters
looked up) was a third of an API retrieve's Python time (issue 16), and it is the same
statement every time: only the id changes. When the view's queryset is exactly its model's
default queryset (nothing filtered, joined, deferred, annotated or ordered), the statement is
compiled once per model and database connection and only the id is bound per request. Any
other queryset (a selector that scopes it to the user, say) takes Django's ordinary path,
so a queryset that narrows what may be read is never bypassed.
"""

import threading
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import MAX_GET_RESULTS, ModelIterable
from django.http import Http404
from rest_framework.generics import get_object_or_404 as drf_get_object_or_404

from nexus.db.prepared import fetch_all

# The lookups Django would compile for this one id; anything else takes the ordinary path.
_INTEGER_KEYS = ("AutoField", "BigAutoField")
# QuerySet attributes that do not say what it selects.
_STATE = ("_query", "_result_cache", "_prefetch_done")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    converters: dict[int, Any]
    compiler: Any
    fields_start: int
    fields_end: int
    init_list: list[str]


_local = threading.local()  # a compiler holds its thread's connection


def get_object_or_404(queryset: QuerySet[Any], pk: Any) -> Any:
    """`rest_framework.generics.get_object_or_404(queryset, pk=pk)`, the same object, the
    same 404s, the same query; compiled once when `queryset` is its model's default one."""
    model = queryset.model
    compiled = _compiled(queryset) if _simple_id(model, pk, queryset.db) else None
    if compiled is None:
        return drf_get_object_or_404(queryset, pk=pk)
    # A prepared statement on PostgreSQL: only the id changes.
    rows = fetch_all(connections[queryset.db], compiled.sql, [int(pk)])
    if not rows:
        raise Http404(f"No {model._meta.object_name} matches the given query.")
    # The primary key is unique: at most one row.
    row = rows[0]
    if compiled.converters:
        row = next(iter(compiled.compiler.apply_converters([row], compiled.converters)))
    return model.from_db(
        queryset.db, compiled.init_list, row[compiled.fields_start : compiled.fields_end]
    )


def _simple_id(model: type[Model], pk: Any, alias: str) -> bool:
    """A whole number the key column can hold, as the URL gave it; anything else (text, an
    id past the column's range) gets Django's own handling of it."""
    internal_type = model._meta.pk.get_internal_type()
    if internal_type not in _INTEGER_KEYS or not isinstance(pk, str):
        return False
    if not (pk.isascii() and pk.isdigit()):
        return False
    low, high = connections[alias].ops.integer_field_range(internal_type)
    return low <= int(pk) <= high


def _compiled(queryset: QuerySet[Any]) -> _Compiled | None:
    """The compiled lookup by id for this queryset's model, or None when the queryset is
    not exactly the model's default queryset."""
    model, alias = queryset.model, queryset.db
    default = model._default_manager.all()
    if not _same_selection(queryset, default):
        return None
    cache: dict[tuple[type[Model], str], _Compiled] = _local.__dict__.setdefault("compiled", {})
    compiled = cache.get((model, alias))
    if compiled is None:
        compiled = cache[(model, alias)] = _compile(default, alias)
    return compiled


def _same_selection(queryset: QuerySet[Any], default: QuerySet[Any]) -> bool:
    # Any attribute a filter, join, deferral, annotation, ordering or limit sets differs
    # from the default queryset's; one that cannot be compared compares unequal, which
    # only sends the request down the ordinary path.
    if queryset._iterable_class is not ModelIterable:
        return False
    own = {k: v for k, v in vars(queryset).items() if k not in _STATE}
    fresh = {k: v for k, v in vars(default).items() if k not in _STATE}
    return own == fresh and vars(queryset.query) == vars(default.query)


def _compile(default: QuerySet[Any], alias: str) -> _Compiled:
    # What QuerySet.get() runs: the filter, no ordering, at most MAX_GET_RESULTS rows.
    probe = 1
    clone = default.filter(pk=probe).order_by()
    clone.query.set_limits(high=MAX_GET_RESULTS)
    compiler = clone.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    if list(params) != [probe]:
        raise AssertionError(f"unexpected parameters for a lookup by id: {params!r}")
    # As ModelIterable reads the rows it selects.
    select = compiler.select
    fields = compiler.klass_info["select_fields"]
    start, end = fields[0], fields[-1] + 1
    return _Compiled(
        sql=sql,
        converters=compiler.get_converters([s[0] for s in select[: compiler.col_count]]),
        compiler=compiler,
        fields_start=start,
        fields_end=end,
        init_list=[f[0].target.attname for f in select[start:end]],
    )
