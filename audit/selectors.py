"""Reading the audit trail."""

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from audit.models import AuditEvent


def auditevent_for_patient(*, patient_id: int) -> QuerySet[AuditEvent]:
    """Every event about this patient: those naming them in `patient` (a single record, or
    a page of theirs) and the pages that listed them among others (`patient_ids`).

    On PostgreSQL each half has its own index, (patient, occurred_at) and the GIN index
    on patient_ids (migration 0007), combined by a bitmap OR. SQLite, for development and
    tests only, has no such index: it looks inside each list, correct but unindexed."""
    if connection.vendor == "postgresql":
        listed = Q(patient_ids__contains=[patient_id])
    else:
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        # A fixed table name and one bound parameter: nothing from the request in the SQL.
        sql = f"SELECT e.id FROM {table} e, json_each(e.patient_ids) p WHERE p.value = %s"  # noqa: S608
        listed = Q(pk__in=RawSQL(sql, [patient_id]))  # noqa: S611
    return AuditEvent.objects.filter(Q(patient_id=patient_id) | listed)
