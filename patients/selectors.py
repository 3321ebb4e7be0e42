"""Reads of patient records, always through here so access rules live in one place."""

import threading
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, reduce
from operator import and_, or_
from typing import Any, TypedDict, cast

import phonenumbers
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection, connections
from django.db.models import BooleanField, F, Field, Func, IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate, Lower
from django.db.models.lookups import Exact
from django.db.models.sql import Query
from django.db.models.sql.where import OR, WhereNode
from django.utils.dateformat import DateFormat

from accounts.models import User
from appointments.models import Appointment, AppointmentSeries, AppointmentType
from clinicians.models import Clinic, Clinician
from nexus.collation import database_orders_by_code_point
from nexus.db.prepared import fetch_all
from nexus.fields import PhoneNumberField
from nexus.timezones import ZonedDateTime, in_zone
from patients.models import Patient


def patient_list(*, user: User, include_archived: bool = True) -> QuerySet[Patient]:
    """The patients `user` may see. patient_list_search() writes the same conditions as
    SQL: one added here must be added there (tests/patients/test_api_search.py compares
    the two)."""
    qs = Patient.objects.all()
    return qs if include_archived else qs.filter(archived=False)


def patient_list_rows(*, user: User, columns: tuple[str, ...]) -> QuerySet[Any]:
    """patient_list(user=user) read as `values(*columns)`: dicts, not model instances.

    Setting values() up for a list page's ~30 columns cost more Python than compiling the
    query (issue 16), so it is set up once per set of columns and copied. That holds
    because patient_list is the same query for every user (tests/patients/test_api_list.py
    compares them): were it to depend on the user, this must too.
    """
    return _patient_rows(columns).all()


@cache
def _patient_rows(columns: tuple[str, ...]) -> QuerySet[Any]:
    return Patient.objects.values(*columns)


@dataclass(frozen=True)
class _CompiledRows:
    sql: str
    params: tuple[Any, ...]
    names: list[str]  # the rows' keys; a count rides after them
    compiler: Any
    converters: dict[int, Any]

    def page(
        self,
        fetched: list[Any],
        *,
        counted: bool,
        row_type: Callable[[Iterable[tuple[str, Any]]], Any],
    ) -> "RowsPage":
        """The rows fetched with this selection, converted as the ORM would, each as
        `row_type(pairs)`; with `counted`, the capped count that rides after the names."""
        count = int(fetched[0][len(self.names)]) if counted and fetched else None
        if self.converters:
            fetched = list(self.compiler.apply_converters(fetched, self.converters))
        # zip() stops at the last name: a count after them is left out.
        rows = [row_type(zip(self.names, row, strict=False)) for row in fetched]
        return RowsPage(rows=rows, count=count)


@dataclass(frozen=True)
class RowsPage:
    rows: list[Any]
    # How many rows the whole list has, counted up to the cap asked for; None when not
    # asked, or when the page is empty (the count is read along with its rows).
    count: int | None


_compiled_rows = threading.local()  # a compiler holds its thread's connection
# QuerySet attributes that do not say what it selects.
_STATE = ("_query", "_result_cache", "_prefetch_done")
# The capped count's name among the page's columns (never a Patient field's).
_COUNTED = "rows_counted"


def patient_rows_page(
    rows: QuerySet[Any],
    *,
    offset: int,
    limit: int,
    count_cap: int | None = None,
    row_type: Callable[[Iterable[tuple[str, Any]]], Any] = dict,
) -> RowsPage | None:
    """Rows `offset` to `offset + limit` of `rows`, in its order, when `rows` is
    patient_list_rows() as it was handed out (nothing filtered or ordered since): its SQL
    is compiled once per set of columns and connection, and only the page's LIMIT and
    OFFSET change. Compiling ~30 columns cost more Python than reading the page (issue 16).
    None for any other queryset: the caller reads that one the ordinary way.

    Each row is `row_type(pairs)` of (column, value), a dict by default. Phone numbers are
    the text stored (E.164), not PhoneNumber objects: parsing each number for the page to
    print it back as stored cost more than the rest of its row (nexus.api.serializers
    _as_phone prints either).

    With `count_cap`, the same statement counts the list too, up to `count_cap` rows (a
    paginator's capped count): a second query cost more Python than the page, mostly
    Django putting the COUNT together (issue 16)."""
    columns = tuple(rows.query.values_select)
    template = _patient_rows(columns)
    if not columns or not _same_selection(rows, template):
        return None
    connection_ = connections[rows.db]
    compiled = _compiled(columns, rows.db, count_cap)
    sql = f"{compiled.sql} {connection_.ops.limit_offset_sql(offset, offset + limit)}"
    # A prepared statement on PostgreSQL (one per page size and page).
    fetched = fetch_all(connection_, sql, compiled.params)
    return compiled.page(fetched, counted=count_cap is not None, row_type=row_type)


def _compiled(columns: tuple[str, ...], alias: str, count_cap: int | None) -> _CompiledRows:
    """_patient_rows(columns) compiled once per database, thread and count_cap."""
    cache_ = _compiled_rows.__dict__.setdefault("compiled", {})
    compiled = cache_.get((alias, columns, count_cap))
    if compiled is None:
        compiled = _compile_rows(_patient_rows(columns), alias, count_cap)
        cache_[(alias, columns, count_cap)] = compiled
    return cast(_CompiledRows, compiled)


def _same_selection(queryset: QuerySet[Any], template: QuerySet[Any]) -> bool:
    # Any attribute a filter, ordering, annotation or limit sets differs from the
    # template's; one that cannot be compared compares unequal, which only sends the
    # request down the ordinary path.
    if queryset._iterable_class is not template._iterable_class:
        return False
    own = {k: v for k, v in vars(queryset).items() if k not in _STATE}
    fresh = {k: v for k, v in vars(template).items() if k not in _STATE}
    return own == fresh and vars(queryset.query) == vars(template.query)


def _compile_rows(template: QuerySet[Any], alias: str, count_cap: int | None) -> _CompiledRows:
    names = [*template.query.extra_select, *template.query.values_select]
    names += template.query.annotation_select
    if count_cap is not None:
        # An uncorrelated subquery: the database counts once per statement, not per row.
        # The cap is written into the text, as the page's LIMIT is: a statement without
        # parameters is planned once when prepared (nexus.db.prepared), where a cap left
        # as a parameter had PostgreSQL plan it again on every execution.
        ids, params = template.order_by().values("pk").query.get_compiler(using=alias).as_sql()
        counted = RawSQL(  # noqa: S611 - SQL Django compiled; the cap a whole number
            f"SELECT COUNT(*) FROM ({ids} LIMIT {int(count_cap)}) AS capped",  # noqa: S608
            tuple(params),
            output_field=IntegerField(),
        )
        template = template.annotate(**{_COUNTED: counted})
    compiler = template.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    # As ValuesIterable reads the rows it selects.
    expressions = [selected[0] for selected in compiler.select[: compiler.col_count]]
    converters = {}
    for i, (functions, expression) in compiler.get_converters(expressions).items():
        if i >= len(names):
            continue  # the count, read as it is (patient_rows_page)
        field = getattr(expression, "output_field", None)
        if isinstance(field, PhoneNumberField):  # stays the stored text (patient_rows_page)
            functions = [f for f in functions if f != field.from_db_value]
        if functions:
            converters[i] = (functions, expression)
    return _CompiledRows(
        sql=sql,
        params=tuple(params),
        names=names,
        compiler=compiler,
        converters=converters,
    )


def _as_e164_prefix(digits: str) -> str:
    """What a typed phone fragment looks like at the start of a stored E.164 number."""
    if digits.startswith("61"):
        return "+" + digits
    if digits.startswith("0"):
        return "+61" + digits[1:]
    return "+61" + digits


def _date_of_birth(term: str) -> date | None:
    """A typed date of birth: 10/12/1985, 10-12-1985, 10.12.1985 (Australian order) or ISO."""
    if not any(ch.isdigit() for ch in term):
        return None  # a name: no need to try the patterns (an exception raised each)
    cleaned = term.strip().replace("-", "/").replace(".", "/")
    for pattern in ("%d/%m/%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(cleaned, pattern).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
    return None


NAME_FIELDS = ("family_name", "given_name", "preferred_name")


class Bytewise(Collate):
    """An expression compared in code-point order: `COLLATE "C"` on PostgreSQL, where a
    plain btree index on it serves a LIKE prefix as a range whatever the database's
    collation; SQLite already compares text that way (and has no collation named C)."""

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, "C")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return compiler.compile(self.source_expressions[0])


class SearchCondition(Func):
    """A search's condition on one column, written out: the same SQL whether Django
    compiles it inside a queryset (patient_search) or a search page puts it together as
    plain text (PatientSearchBranches), which then builds and compiles no queryset.

    Written out rather than built from Lower, Collate and StartsWith, which cost twice
    the Python to build and compile (378 against 172 us for one condition, measured
    under load), and a search compiles several."""

    output_field = BooleanField()
    # How many index entries make a prefix common: a prepared search page then finds its
    # matches walking the family-name index in order, not sorting them (_DenseBranch).
    common = 500

    def __init__(self, field: str, value: str) -> None:
        super().__init__(F(field))
        self.field_name = field
        self.value = value

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        column, params = compiler.compile(self.source_expressions[0])
        sql, own = self.on(column, connection)
        return sql, (*params, *own)

    def on(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]]:
        """This condition on `column` (SQL naming it) as (SQL, params)."""
        raise NotImplementedError

    def index_range(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]] | None:
        """The range of this condition's index its rows lie in, as (SQL, params) with the
        bounds as parameters; "" when on() is itself one (`= %s`). For a prepared statement
        (nexus.db.prepared), which PostgreSQL plans once without its values: it derives an
        index range from a LIKE only when the pattern is a constant, so `LIKE $1` alone
        read the whole table. None where no range can be written: the caller inlines the
        values instead, as before.

        The range holds exactly the rows on() holds for (prefix_range), so a branch tests
        it alone: on() tested again for every index entry of the range cost ~0.1 ms per
        1,000 entries (issue 16)."""
        return None

    def reads_in_order(self, connection: Any) -> bool:
        """Whether the index index_range() reads also holds the search's order after its
        range, so that a prepared page walks it and stops at the page instead of sorting
        every match (_read_by_branch)."""
        return False


class NameStarts(SearchCondition):
    """`LOWER(field) COLLATE "C" LIKE 'word%'`: the name begins with the word whatever
    their case, compared in code-point order so the patients search indexes serve it as a
    range. The word is lowered here where that is how PostgreSQL lowers it (_lowered);
    any other word is lowered by the database, as `LOWER('word%')`."""

    def on(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lowered = _lowered(self.value, connection)
        # The word's own % and _ are letters here, not wildcards.
        word = self.value if lowered is None else lowered
        pattern = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if connection.vendor != "postgresql":
            return f"LOWER({column}) LIKE LOWER(%s) ESCAPE '\\'", (pattern,)
        if lowered is None:
            return f'LOWER({column}) COLLATE "C" LIKE LOWER(%s)', (pattern,)
        # A pattern in a parameter, not LOWER() of one: in a prepared statement's plan
        # LOWER($1) is not folded but run for every row tested, which doubled the time a
        # one-letter search took to run (1 ms to 4.4 ms, issue 16).
        return f'LOWER({column}) COLLATE "C" LIKE %s', (pattern,)

    def index_range(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]] | None:
        lowered = _lowered(self.value, connection)
        bounds = prefix_range(lowered) if lowered is not None else None
        if bounds is None:
            return None
        key = f'LOWER({column}) COLLATE "C"'
        return f"{key} >= %s AND {key} < %s", bounds

    def reads_in_order(self, connection: Any) -> bool:
        # The family-name index holds the search's order right after the name.
        return self.field_name == "family_name"


def _lowered(word: str, connection: Any) -> str | None:
    """`word` as PostgreSQL's LOWER() gives it, where Python's lower() is sure to give the
    same: an ASCII word under a C or C.UTF-8 locale (database_orders_by_code_point); None
    elsewhere (é, the Kelvin sign Python lowers to k, a Turkish locale's I, ICU)."""
    if not (
        connection.vendor == "postgresql"
        and word.isascii()
        and database_orders_by_code_point(connection.alias)
    ):
        return None
    return word.lower()


# How many leading characters of a phone number the phone-area index holds (patients
# migration 0012): "+61412", what "0412", "412", "61412" and "+61412" ask for.
PHONE_AREA = 6


class Starts(SearchCondition):
    """The column begins with the value: what Django writes for `field__startswith`."""

    # The family-name index does not hold phone or Medicare numbers: walking it reads the
    # table for each entry, dearer than sorting entries of their own index ("0412": 1,200
    # matches sorted in 1.2 ms, found walking in 2 ms).
    common = 2_000

    def on(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs = connection.ops.lookup_cast("startswith", "CharField") % column
        pattern = connection.ops.prep_for_like_query(self.value) + "%"
        return f"{lhs} {connection.operators['startswith'] % '%s'}", (pattern,)

    def index_range(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]] | None:
        # ~>=~ and ~<~ compare byte by byte, as the varchar_pattern_ops indexes on phone
        # and Medicare number (patients migrations 0008, 0009) are ordered, whatever the
        # database's collation.
        bounds = prefix_range(self.value)
        if connection.vendor != "postgresql" or bounds is None:
            return None
        lhs = connection.ops.lookup_cast("startswith", "CharField") % column
        if self.reads_in_order(connection):
            # The ASCII prefix is the number's first PHONE_AREA characters exactly when
            # the number starts with it: equality compares bytes (a deterministic
            # collation), LEFT() counts characters.
            return f"LEFT({lhs}, {PHONE_AREA}) = %s", (self.value,)
        return f"{lhs} ~>=~ %s AND {lhs} ~<~ %s", bounds

    def reads_in_order(self, connection: Any) -> bool:
        # A phone prefix of the length "0412" gives ("+61412"), where the sort keys are
        # the code-point ones the phone-area index holds after it (patients migration
        # 0012): a page of ~1,100 matches stops at its rows instead of sorting them all.
        return (
            self.field_name == "phone"
            and len(self.value) == PHONE_AREA
            and self.value.isascii()
            and connection.vendor == "postgresql"
            and database_orders_by_code_point(connection.alias)
        )


class Equals(SearchCondition):
    """The column is the value, stored as the field stores it: Django's `field=value`."""

    def on(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]]:
        field = cast("Field[Any, Any]", Patient._meta.get_field(self.field_name))
        return f"{column} = %s", (field.get_prep_value(self.value),)

    def index_range(self, column: str, connection: Any) -> tuple[str, tuple[Any, ...]] | None:
        return ("", ()) if connection.vendor == "postgresql" else None


def prefix_range(prefix: str) -> tuple[str, str] | None:
    """(low, high) such that a text starts with `prefix` exactly when low <= text < high
    in code-point order (COLLATE "C" and the pattern operators compare UTF-8 bytes, which
    sort as their code points do): the prefix, and the prefix with its last character
    incremented. For a non-empty ASCII prefix only (the one kind the search sends; its
    last character always has a successor); None for any other."""
    if not (prefix and prefix.isascii()):
        return None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _any_name_starts(word: str) -> Q:
    return reduce(or_, (Q(NameStarts(field, word)) for field in NAME_FIELDS))


def _search_branches(term: str) -> tuple[list[Q | SearchCondition], list[str]]:
    """What a typed term asks for, as (branches, words): a patient matches when any branch
    holds and each of `words` begins one of the names. Each branch is served by an index
    of its own (patients migrations 0002, 0008, 0009), so a page can be read branch by
    branch (patient_search_page)."""
    compact = "".join(ch for ch in term if ch not in " -()")
    born = _date_of_birth(term)
    if born:
        return [Q(date_of_birth=born)], []
    if "@" in term:
        return [Q(email__istartswith=term)], []
    if compact.lstrip("+").isdigit():
        digits = compact.lstrip("+")
        branches: list[Q | SearchCondition] = [
            Starts("phone", _as_e164_prefix(digits)),
            Starts("medicare_number", digits),
        ]
        if compact.startswith("+"):
            try:
                parsed = phonenumbers.parse(compact, None)
                branches.append(Equals("phone", phonenumbers.format_number(parsed, 0)))
            except phonenumbers.NumberParseException:
                pass
        return branches, []
    # Every word must begin one of the names; the longest word (the fewest matches) is
    # the one split into a branch per name column.
    words = term.split()[:4]
    pivot = max(range(len(words)), key=lambda i: len(words[i]))
    rest = [word for i, word in enumerate(words) if i != pivot]
    return [NameStarts(field, words[pivot]) for field in NAME_FIELDS], rest


def _search_order(using: str) -> tuple[Any, Any]:
    """The sort keys of a search: LOWER(family_name), LOWER(given_name) in the database's
    collation. Where that collation is code-point order already (C, C.UTF-8), the same
    keys are written in code-point order, which the family-name index supplies, so a page
    of "smi" stops after its rows instead of sorting every Smith."""
    if database_orders_by_code_point(using):
        return Bytewise(Lower("family_name")), Bytewise(Lower("given_name"))
    return Lower("family_name"), Lower("given_name")


def patient_search(queryset: QuerySet[Patient], term: str) -> QuerySet[Patient]:
    """Match a name, phone, email or Medicare number as reception types it.

    Every branch is a prefix match on an indexed expression (see the patients search-index
    migrations), and results are ordered by LOWER(name) so PostgreSQL cannot be tempted to
    walk a name index end to end looking for matches (docs/performance.md). Read a page
    of it with patient_search_page, which asks each branch for its first rows only.
    """
    term = term.strip()
    if not term:
        return queryset
    branches, words = _search_branches(term)
    rest = reduce(and_, (_any_name_starts(word) for word in words), Q())
    family, given = _search_order(queryset.db)
    either = reduce(or_, (b if isinstance(b, Q) else Q(b) for b in branches))
    return queryset.filter(either, rest).order_by(family, given, "id")


@dataclass(frozen=True)
class _SearchSQL:
    """What every search on one database writes the same way, as SQL: the table and the
    sort keys (_search_order), written with columns named alone (`"family_name"`), as in
    a query on the patients table alone. Not qualified by the table: a page of "smi"
    came to 5.3 kB of SQL, and psycopg parses a statement over 4 kB afresh each time
    instead of once (issue 16)."""

    table: str
    family: str
    given: str
    quote: Callable[[str], str]

    def column(self, name: str) -> str:
        return self.quote(name)


@cache
def _search_sql(using: str) -> _SearchSQL:
    """Compiled once per database and process: the answer never changes while it runs."""
    query = Query(Patient, alias_cols=False)
    compiler = query.get_compiler(using=using)
    family, given = (
        compiler.compile(key.resolve_expression(query))[0] for key in _search_order(using)
    )
    quote = connections[using].ops.quote_name
    return _SearchSQL(table=quote(Patient._meta.db_table), family=family, given=given, quote=quote)


@cache
def _columns(fields: tuple[str, ...] | None) -> tuple[str, ...]:
    """The columns of `fields` (all of them for None), the primary key first."""
    chosen = [f for f in Patient._meta.concrete_fields if fields is None or f.name in fields]
    return ("id", *(str(f.column) for f in chosen if not f.primary_key))


@cache
def _search_select(using: str, columns: tuple[str, ...]) -> str:
    """`columns` as a search page selects them from the patients table named `p`."""
    quote = _search_sql(using).quote
    fields = [
        cast("Field[Any, Any]", Patient._meta.get_field(name))
        for name in _patient_rows(columns).query.values_select
    ]
    return ", ".join(f"p.{quote(str(field.column))}" for field in fields)


# The text of each shape of prepared search page (PatientSearchBranches._shape), which
# few shapes share: a term's words and its kind (name, phone), whether archived patients
# count. Emptied if ever it grows past this, rather than kept in order of use.
_PREPARED_ROWS_KEPT = 256
_prepared_rows_sql: dict[tuple[Any, ...], str] = {}


@dataclass(frozen=True)
class _DenseBranch:
    """A branch read two ways in a prepared search page, as the planner chose per value
    when the values were inlined: a rare prefix from its own index, its matches sorted;
    a common one ("oli" or a whole given name, 3-7% of patients; a phone's "04") by
    walking the family-name index in the search's order until the page is full, as
    sorting thousands of matches cost 5-10 ms ("04": 139 ms) against ~1 ms. The statement
    counts the branch's matches up to `common` (SearchCondition.common; along with the
    page's capped count, PatientSearchBranches._counts_sql) and runs one of the two.

    `sql` is the branch's condition without its index range (SearchCondition.index_range),
    which the generic plan cannot read from the branch's index."""

    common: int
    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True)
class PatientSearchBranches:
    """A search (patient_search(queryset, term), maybe filtered further) to be read branch
    by branch: `where`, everything the queryset asks, and each branch's condition,
    disjoint from the ones before it, as SQL on the patients table.

    patient_search() ORs the branches, which PostgreSQL answers by reading every match
    ("smi": ~2,500 rows of 100k) to sort them. Instead each branch asks its own index for
    its first rows in name order (a prefix and the sort keys in one index stop early; the
    others read index entries only). `where` leaves that OR out, as each branch implies it:
    repeated in every branch it cost PostgreSQL a third of the time it took to plan a page.
    The SQL is put together as text from parts written once per database (_search_sql,
    SearchCondition.on): building and compiling querysets for it cost more Python than the
    rest of a search.

    When every branch gives its index range as parameters (SearchCondition.index_range:
    an ASCII term on PostgreSQL), rows() and count() run as a prepared statement, parsed
    and planned once per connection (nexus.db.prepared): with the values inlined,
    PostgreSQL planned a page of "smi" on every request (~0.9 ms, more than the 0.7 ms it
    took to run; issue 16).
    """

    using: str
    where: str  # "" when the queryset asks nothing more than the search
    params: tuple[Any, ...]
    conditions: tuple[tuple[str, tuple[Any, ...]], ...]
    # Every condition carries its index range (SearchCondition.index_range).
    prepared: bool = False
    # Per branch, when prepared: how to read it when its prefix is common (_DenseBranch).
    dense: tuple[_DenseBranch | None, ...] = ()

    def _branch(
        self, i: int, select: str, tested: tuple[str, tuple[Any, ...]] | None = None
    ) -> tuple[str, list[Any]]:
        # Branch i, or `tested` in its stead.
        condition, params = tested or self.conditions[i]
        table = _search_sql(self.using).table
        # Parts compiled or written here; everything typed stays a parameter.
        if not self.where:
            return f"SELECT {select} FROM {table} WHERE {condition}", [*params]  # noqa: S608
        sql = f"SELECT {select} FROM {table} WHERE ({self.where}) AND {condition}"  # noqa: S608
        return sql, [*self.params, *params]

    def page(
        self, *, offset: int, limit: int, fields: tuple[str, ...] | None = None
    ) -> list[Patient]:
        """Rows `offset` to `offset + limit` in the search's order, in one query. Only
        `fields` are read (and the id), the others left deferred; all of them when None."""
        sql, params = self.page_sql(offset=offset, limit=limit, fields=fields)
        return list(Patient.objects.db_manager(self.using).raw(sql, params))

    def rows(
        self,
        *,
        offset: int,
        limit: int,
        columns: tuple[str, ...],
        count_cap: int | None = None,
        row_type: Callable[[Iterable[tuple[str, Any]]], Any] = dict,
    ) -> RowsPage:
        """The rows page() reads, as patient_rows_page() reads a row of
        patient_list_rows(columns): `row_type(pairs)` of (column, value), converted the
        same way. A page of 25 Patient instances cost more Python than the rest of a
        search (issue 16).

        With `count_cap`, the same statement counts the search too, up to `count_cap`
        rows (count()): one statement costs less than two on both sides. Prepared, it
        counts each branch once, for the page's count and for how to read the branch
        (_counts_sql)."""
        compiled = _compiled(columns, self.using, None)
        if self.prepared:
            key = (self._shape(), columns, count_cap)
            sql = _prepared_rows_sql.get(key)
            if sql is None:
                sql, params = self._prepared_rows(
                    offset=offset, limit=limit, select=columns, count_cap=count_cap
                )
                if len(_prepared_rows_sql) >= _PREPARED_ROWS_KEPT:
                    _prepared_rows_sql.clear()
                _prepared_rows_sql[key] = sql
            else:
                params = self._prepared_params(offset=offset, limit=limit)
        else:
            select = _search_select(self.using, columns)
            select_params: list[Any] = []
            if count_cap is not None:
                counted, select_params = self._count_sql(count_cap)
                select = f"{select}, ({counted}) AS {_COUNTED}"
            sql, params = self._page_sql(select, select_params, offset=offset, limit=limit)
        fetched = self._fetch_all(sql, params)
        return compiled.page(fetched, counted=count_cap is not None, row_type=row_type)

    def _shape(self) -> tuple[Any, ...]:
        """Everything the text of a prepared page depends on; the values typed are its
        parameters only (_prepared_params)."""
        dense = tuple(None if d is None else (d.common, d.sql) for d in self.dense)
        return (self.using, self.where, tuple(sql for sql, _ in self.conditions), dense)

    def _prepared_rows(
        self, *, offset: int, limit: int, select: tuple[str, ...], count_cap: int | None
    ) -> tuple[str, list[Any]]:
        """rows()'s prepared statement as (SQL, params), selecting the columns `select`."""
        selected = _search_select(self.using, select)
        counts, count_params = self._counts_sql(count_cap or 0)
        if count_cap is not None:
            total = " + ".join(f"(SELECT n FROM counted{i})" for i in range(len(self.dense)))  # noqa: S608 - names written here
            selected = f"{selected}, LEAST({int(count_cap)}, {total}) AS {_COUNTED}"
        sql, params = self._page_sql(selected, [], offset=offset, limit=limit, generic=True)
        return f"WITH {counts} {sql}", [*count_params, *params]

    def _prepared_params(self, *, offset: int, limit: int) -> list[Any]:
        """The parameters of _prepared_rows()'s statement, in its order, without writing
        it: the text is the same for every search of one shape (_shape), and writing it
        cost more Python than the rest of reading the branches (issue 16)."""
        branches = [[*self.params, *p] if self.where else [*p] for _, p in self.conditions]
        params = [p for branch in branches for p in branch]  # _counts_sql
        for branch, dense in zip(branches, self.dense, strict=True):  # _page_sql
            params += branch
            params.append(offset + limit)
            if dense is not None:
                params += [*self.params, *dense.params] if self.where else dense.params
                params.append(offset + limit)
        params += [limit, offset]
        return params

    def _fetch_all(self, sql: str, params: list[Any]) -> list[Any]:
        return fetch_all(connections[self.using], sql, params, prepare=self.prepared)

    def page_sql(
        self, *, offset: int, limit: int, fields: tuple[str, ...] | None = None
    ) -> tuple[str, list[Any]]:
        """The page's query as (SQL, params): the page is taken from the union of each
        branch's first `offset + limit` rows, among which any row of the page is. The
        branches are disjoint: no duplicates to remove."""
        s = _search_sql(self.using)
        columns = ", ".join(f"p.{s.column(name)}" for name in _columns(fields))
        return self._page_sql(columns, [], offset=offset, limit=limit)

    def _page_sql(
        self,
        select: str,
        select_params: list[Any],
        *,
        offset: int,
        limit: int,
        generic: bool = False,
    ) -> tuple[str, list[Any]]:
        # `select`: what the page selects, SQL naming the patients table `p`. `generic`:
        # for a plan made without the values (a prepared statement).
        s = _search_sql(self.using)
        select_ids = f"{s.column('id')} AS id, {s.family} AS sort_family, {s.given} AS sort_given"
        # Each branch is wrapped in a subquery: SQLite refuses ORDER BY and LIMIT on the
        # parts of a compound SELECT.
        order = "ORDER BY sort_family, sort_given, id LIMIT %s"
        parts, params = [], []
        for i in range(len(self.conditions)):
            sql, branch_params = self._branch(i, select_ids)
            dense = self.dense[i] if generic and self.dense else None
            if dense is None:
                parts.append(f"SELECT * FROM ({sql} {order}) AS branch{i}")  # noqa: S608 - as above
                params += [*branch_params, offset + limit]
                continue
            # Two ways to read it, of which the statement runs one: a few matches are read
            # from the branch's index and sorted; many are found walking the family-name
            # index in the search's order, stopping at the page (_DenseBranch).
            walk, walk_params = self._branch(i, select_ids, (dense.sql, dense.params))
            # The branch's matches, counted up to `common` or more (_counts_sql).
            many = f"(SELECT n FROM counted{i}) >= {int(dense.common)}"  # noqa: S608 - a number
            parts.append(
                f"SELECT * FROM (SELECT * FROM ({sql} {order}) AS few WHERE NOT {many}"  # noqa: S608 - as above
                f" UNION ALL SELECT * FROM ({walk} {order}) AS many WHERE {many}) AS branch{i}"
            )
            params += [*branch_params, offset + limit]
            params += [*walk_params, offset + limit]
        union = " UNION ALL ".join(parts)
        found = f"SELECT * FROM ({union}) AS found {order} OFFSET %s"  # noqa: S608 - as above
        sql = (
            f"SELECT {select} FROM {s.table} AS p JOIN ({found}) AS shown"  # noqa: S608 - as above
            f" ON shown.id = p.{s.column('id')}"
            " ORDER BY shown.sort_family, shown.sort_given, shown.id"
        )
        return sql, [*select_params, *params, limit, offset]

    def count(self, *, cap: int) -> int:
        """How many rows, counting at most `cap`: the branches' ids one after the other,
        which their indexes answer without reading the table, stopping at `cap`."""
        sql, params = self._count_sql(cap)
        [(count,)] = self._fetch_all(sql, params)
        return int(count)

    def _counts_sql(self, cap: int) -> tuple[str, list[Any]]:
        """For a prepared page (generic): the common table expressions `counted<i>`, the
        matches of branch i (with `where`, disjoint from the earlier ones) counted as far
        as both the page's capped count (their sum up to `cap`) and the choice of how to
        read the branch (up to its `common`, _DenseBranch) need. "0412" scanned its ~1,100
        phone entries once for each: the count, the choice, the page (issue 16).

        Branch i counts up to `cap` less what the earlier ones counted, or its `common`,
        whichever is more: where it stops short of all its matches, either the earlier
        ones reached `cap` already, or it reached `cap` or its `common` itself."""
        parts: list[str] = []
        params: list[Any] = []
        earlier: list[str] = []
        for i, dense in enumerate(self.dense):
            sql, branch_params = self._branch(i, "1")
            common = int(dense.common) if dense is not None else 0
            need = f"GREATEST({common}, {int(cap)} - ({' + '.join(earlier)}))" if earlier else ""
            limit = need or str(max(common, int(cap)))
            # Written here; the limits are numbers.
            parts.append(f"counted{i} AS (SELECT COUNT(*) AS n FROM ({sql} LIMIT {limit}) AS m)")  # noqa: S608
            params += branch_params
            earlier.append(f"(SELECT n FROM counted{i})")  # noqa: S608 - as above
        return ", ".join(parts), params

    def _count_sql(self, cap: int) -> tuple[str, list[Any]]:
        parts, params = [], []
        for i in range(len(self.conditions)):
            sql, branch_params = self._branch(i, _search_sql(self.using).column("id"))
            parts.append(sql)
            params += branch_params
        union = " UNION ALL ".join(parts)
        return f"SELECT COUNT(*) FROM ({union} LIMIT %s) AS found", [*params, cap]  # noqa: S608


def patient_search_branches(matched: QuerySet[Patient], term: str) -> PatientSearchBranches | None:
    """`matched` = patient_search(queryset, term), maybe filtered further, ready to be read
    branch by branch; None when the term has one branch only (a date of birth, an email),
    which `matched` reads as well by itself."""
    term = term.strip()
    branches, _ = _search_branches(term) if term else ([], [])
    if len(branches) < 2:
        return None
    using = matched.db
    query = matched.query
    # The tables it reads (a join values() set up for a foreign key's id is not read).
    tables = [alias for alias in query.alias_map if query.alias_refcount[alias]]
    if len(tables) == 1:  # the patients table alone: its own conditions
        # All but the OR of the branches (each branch implies it): often nothing.
        others = [c for c in query.where.children if not _ors(c, branches)]
        try:
            where, params = query.get_compiler(using=using).compile(
                WhereNode(others, connector=query.where.connector, negated=query.where.negated)
            )
        except EmptyResultSet:
            where, params = "0 = 1", []
        except FullResultSet:
            where, params = "", []
    else:  # a filter through a relation: the patients it matches, by id
        ids = matched.order_by().values("pk").query.get_compiler(using=using)
        sql, params = ids.as_sql()
        where = f"{_search_sql(using).column('id')} IN ({sql})"
    return _read_by_branch(using, branches, where, params)


def patient_list_search(
    *, user: User, term: str, include_archived: bool = True
) -> PatientSearchBranches | None:
    """patient_search(patient_list(user=user, include_archived=...), term) ready to be read
    branch by branch, as patient_search_branches() makes it, put together from the term
    alone: no queryset built, filtered, then taken apart again (its WHERE compiled to find
    the conditions other than the branches'). That was ~2 ms of an API search's ~7.6 ms of
    Python (issue 16). The words not split into branches are written with NameStarts.on,
    as the branches are, and must begin a name as patient_search() asks.

    patient_list is the same for every user (patient_list_rows): were it to depend on the
    user, its conditions would have to be written here too. None when the term is empty
    or has one branch only (a date of birth, an email), as patient_search_branches()."""
    term = term.strip()
    branches, words = _search_branches(term) if term else ([], [])
    if len(branches) < 2:
        return None
    using = Patient._default_manager.db
    connection = connections[using]
    table = _search_sql(using)
    where: list[str] = []
    params: list[Any] = []
    if not include_archived:
        where.append(f"{table.column('archived')} = %s")
        params.append(False)
    for word in words:
        names = [NameStarts(name, word).on(table.column(name), connection) for name in NAME_FIELDS]
        where.append("(" + " OR ".join(sql for sql, _ in names) + ")")
        params += [param for _, own in names for param in own]
    return _read_by_branch(using, branches, " AND ".join(where), params)


def _read_by_branch(
    using: str, branches: list[Q | SearchCondition], where: str, params: Iterable[Any]
) -> PatientSearchBranches:
    """The search's `branches` on database `using`, each read with `where` (SQL on the
    patients table alone, "" for nothing) and its `params`."""
    connection = connections[using]
    # Each branch made disjoint from the ones before it: the first branch a row matches is
    # its only one.
    table = _search_sql(using)
    searched = [b for b in branches if isinstance(b, SearchCondition)]
    compiled = [b.on(table.column(b.field_name), connection) for b in searched]
    ranges = [b.index_range(table.column(b.field_name), connection) for b in searched]
    prepared = all(r is not None for r in ranges)
    conditions: list[tuple[str, tuple[Any, ...]]] = []
    dense: list[_DenseBranch | None] = []
    for i, (branch, (condition, condition_params)) in enumerate(
        zip(searched, compiled, strict=True)
    ):
        earlier = compiled[:i]
        tested = (
            " AND ".join([f"({condition})", *(f"NOT ({sql_})" for sql_, _ in earlier)]),
            (*condition_params, *(p for _, params_ in earlier for p in params_)),
        )
        index_range = ranges[i]
        if not prepared or index_range is None or not index_range[0]:
            conditions.append(tested)
            dense.append(None)
            continue
        range_sql, range_params = index_range
        # The range is the condition itself (SearchCondition.index_range); the branches
        # before it are still left out as written.
        conditions.append(
            (
                " AND ".join([range_sql, *(f"NOT ({sql_})" for sql_, _ in earlier)]),
                (*range_params, *(p for _, params_ in earlier for p in params_)),
            )
        )
        # An index holding the search's order after the range (the family name's, the
        # phone area's): that branch stops early anyway, however many it matches.
        in_order = branch.reads_in_order(connection)
        dense.append(None if in_order else _DenseBranch(branch.common, *tested))
    return PatientSearchBranches(
        using=using,
        where=where,
        params=tuple(params),
        conditions=tuple(conditions),
        prepared=prepared,
        dense=tuple(dense),
    )


def _ors(node: Any, branches: list[Q | SearchCondition]) -> bool:
    """Whether `node`, a condition of a queryset's WHERE, is patient_search()'s OR of
    `branches` as Django builds it (tests/patients/test_api_search.py)."""
    if not (isinstance(node, WhereNode) and node.connector == OR) or node.negated:
        return False
    if len(node.children) != len(branches):
        return False
    for lookup, branch in zip(node.children, branches, strict=True):
        if not (isinstance(lookup, Exact) and lookup.rhs is True):
            return False
        condition = lookup.lhs
        if not (type(condition) is type(branch) and isinstance(condition, SearchCondition)):
            return False
        if (condition.field_name, condition.value) != (branch.field_name, branch.value):  # type: ignore[union-attr]
            return False
    return True


def patient_search_page(
    matched: QuerySet[Patient],
    term: str,
    *,
    offset: int,
    limit: int,
    fields: tuple[str, ...] | None = None,
) -> list[Patient]:
    """Rows `offset` to `offset + limit` of `matched` (patient_search(queryset, term), maybe
    filtered further), in its order, in one query (PatientSearchBranches.page), reading
    only `fields` (and the id), or all of them when None."""
    branches = patient_search_branches(matched, term)
    if branches is None:
        shown = matched.only(*fields) if fields is not None else matched
        return list(shown[offset : offset + limit])
    return branches.page(offset=offset, limit=limit, fields=fields)


def patient_search_shown(
    *, user: User, term: str, limit: int, fields: tuple[str, ...] | None = None
) -> list[Patient]:
    """The first `limit` patients `user` may see, archived ones left out, that `term`
    finds (the staff search), reading only `fields`: from the term alone where it has
    branches (patient_list_search, as the API reads a search alone), else from the
    filtered queryset (patient_search_page). Empty for an empty term."""
    branches = patient_list_search(user=user, term=term, include_archived=False)
    if branches is not None:
        return branches.page(offset=0, limit=limit, fields=fields)
    if not term.strip():
        return []
    matches = patient_search(patient_list(user=user, include_archived=False), term)
    return patient_search_page(matches, term, offset=0, limit=limit, fields=fields)


class ChartAppointment(TypedDict):
    """One line of the chart's appointment lists, formatted once: the template only prints.
    A dict, not a model: the chart shows up to 30 of these on one of the most opened pages,
    and a template looks a dict's keys up without trying attribute access first."""

    id: int
    start: ZonedDateTime  # in the clinic's zone
    start_iso: str  # the <time datetime="…"> value
    start_text: str  # "Mon 30 Nov 2026, 5:34 PM"
    status: str
    status_label: str
    repeat: bool  # part of a repeat booking
    colour: str
    type_name: str
    clinician_name: str


@dataclass(frozen=True)
class PatientAppointments:
    """The chart's appointment lists: coming up (cancelled ones apart) and the latest past."""

    upcoming: list[ChartAppointment]
    cancelled: list[ChartAppointment]
    past: list[ChartAppointment]
    has_series: bool  # the patient has repeat bookings (listed apart, patient_series)


_STATUS_LABELS: dict[str, str] = dict(Appointment.Status.choices)
_UPCOMING, _CANCELLED, _PAST = 0, 1, 2


@cache
def _chart_appointments_sql() -> str:
    """The three lists as one statement, with whether the patient has repeat bookings:
    each list a small walk of the (patient, start) index, stopped by its LIMIT. Written
    out rather than built by the ORM because compiling three joined querysets cost more
    than everything else the chart does (issue 16: 11 ms of 35 under load, against 0.4 ms
    for this); the rows are plain values, so nothing else is lost."""
    a, k, c, t = (
        model._meta.db_table for model in (Appointment, Clinic, Clinician, AppointmentType)
    )
    part = (
        "SELECT * FROM (SELECT {part} AS part, a.id, a.start, a.status, a.series_id, "  # noqa: S608 - table names from the models
        "k.timezone, c.given_name, c.family_name, t.name, t.colour "
        f"FROM {a} a JOIN {k} k ON k.id = a.clinic_id JOIN {c} c ON c.id = a.clinician_id "
        f"JOIN {t} t ON t.id = a.appointment_type_id "
        "WHERE a.patient_id = %s AND {where} ORDER BY {order} LIMIT %s) AS part{part}"
    )
    lists = " UNION ALL ".join(
        (
            part.format(part=_UPCOMING, where="a.start >= %s AND a.status <> %s", order=_SOON),
            part.format(part=_CANCELLED, where="a.start >= %s AND a.status = %s", order=_SOON),
            part.format(part=_PAST, where="a.start < %s", order="a.start DESC, a.id DESC"),
        )
    )
    # Whether the patient has repeat bookings rides along: one row even with no appointments.
    series = AppointmentSeries._meta.db_table
    return (
        "SELECT x.has_series, r.* FROM (SELECT EXISTS "  # noqa: S608 - table names from the models
        f"(SELECT 1 FROM {series} WHERE patient_id = %s) AS has_series) AS x "
        f"LEFT JOIN ({lists}) AS r ON 1 = 1"
    )


_SOON = "a.start, a.id"


def patient_appointments(
    *, user: User, patient_id: int, now: datetime, limit: int
) -> PatientAppointments:
    """The next `limit` booked and the next `limit` cancelled visits, and the last `limit`
    past ones whatever their status, in one query. Every appointment of a patient the user
    may see is shown, as appointment_list(user=...) allows."""
    at = connection.ops.adapt_datetimefield_value(now)
    cancelled = Appointment.Status.CANCELLED.value
    params = [
        patient_id,
        *(patient_id, at, cancelled, limit),
        *(patient_id, at, cancelled, limit),
        *(patient_id, at, limit),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_chart_appointments_sql(), params)
        rows = cursor.fetchall()
    has_series = bool(rows[0][0])
    lists: tuple[list[ChartAppointment], ...] = ([], [], [])
    # Each part keeps its ORDER BY only inside itself: sort again rather than trust UNION ALL.
    shown = sorted((row[1:] for row in rows if row[1] is not None), key=_list_order)
    for part, pk, start, status, series_id, zone, given, family, type_name, colour in shown:
        local = in_zone(_aware(start), zoneinfo.ZoneInfo(zone))
        lists[part].append(
            {
                "id": pk,
                "start": local,
                "start_iso": local.isoformat(),  # what the date filter's "c" gives
                "start_text": DateFormat(local).format("D j M Y, g:i A"),
                "status": status,
                "status_label": _STATUS_LABELS.get(status, status),
                "repeat": series_id is not None,
                "colour": colour,
                "type_name": type_name,
                "clinician_name": f"{given} {family}",
            }
        )
    lists[_PAST].reverse()  # newest first
    return PatientAppointments(
        upcoming=lists[_UPCOMING],
        cancelled=lists[_CANCELLED],
        past=lists[_PAST],
        has_series=has_series,
    )


def _list_order(row: tuple[Any, ...]) -> tuple[int, datetime, int]:
    return row[0], _aware(row[2]), row[1]


def _aware(value: datetime | str) -> datetime:
    # PostgreSQL answers an aware datetime; SQLite (the default test database) UTC text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
