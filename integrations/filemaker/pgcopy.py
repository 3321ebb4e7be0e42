"""Inserting a batch of new rows at COPY speed on PostgreSQL (issue 14 item 6).

`bulk_create` spends most of its time compiling an INSERT with ~15 parameters a row
(performance.md: ~11k rows/s); COPY streams the same rows at several times that. COPY
returns no ids, so the ids are drawn from the table's sequence first and written with the
rows, which also lets callers use them before the insert (a signed note's digest covers
its id). Elsewhere (SQLite) this falls back to bulk_create.

Model.save(), signals and field pre_save() do not run, as with bulk_create: callers
validate first; auto_now/auto_now_add fields are filled here when empty.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

# Field classes (exactly these, not subclasses such as the phone and identifier fields)
# whose Python value psycopg adapts as it is, without get_db_prep_save.
_PLAIN = {
    models.CharField,
    models.EmailField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
    models.BooleanField,
    models.DateField,
    models.DateTimeField,
    models.TimeField,
    models.ForeignKey,
    models.BigAutoField,
    models.AutoField,
}


def uses_copy() -> bool:
    return connection.vendor == "postgresql"


def allocate_ids(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Give unsaved objects their primary keys from the table's sequence (PostgreSQL)."""
    if not objects or not uses_copy():
        return
    table = model._meta.db_table
    pk_column = model._meta.pk.column if model._meta.pk else "id"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, pk_column, len(objects)],
        )
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk


def copy_insert(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Insert unsaved `objects` (ids allocated here if missing): COPY on PostgreSQL,
    bulk_create elsewhere."""
    if not objects:
        return
    if not uses_copy():
        model._default_manager.bulk_create(objects)
        return
    if any(obj.pk is None for obj in objects):
        allocate_ids(model, [obj for obj in objects if obj.pk is None])
    fields = list(model._meta.concrete_fields)
    now = timezone.now()
    plain = [type(f) in _PLAIN for f in fields]
    # Phone numbers were validated already: E.164 text straight from the parsed number
    # (the field's own get_prep_value validates each one again, ~100 µs a value).
    phones = [isinstance(f, PhoneNumberField) for f in fields]
    stamps = [
        bool(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)) for f in fields
    ]

    def rows() -> Iterable[tuple[Any, ...]]:
        for obj in objects:
            row = []
            for field, is_plain, stamped, phone in zip(fields, plain, stamps, phones, strict=True):
                value = getattr(obj, field.attname)
                if phone:
                    value = getattr(value, "as_e164", value) or ""
                elif stamped and value is None:
                    value = now
                    setattr(obj, field.attname, now)
                elif not is_plain:
                    value = field.get_db_prep_save(value, connection)
                row.append(value)
            yield tuple(row)

    copy_rows(model._meta.db_table, [str(f.column) for f in fields], rows())


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
