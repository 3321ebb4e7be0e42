"""A page showing many records is one event listing them (issue 16): `object_ids` and
`patient_ids`. On PostgreSQL a GIN index (jsonb_path_ops, for `@>`) finds the events that
list a patient, so "who saw this patient" stays an index lookup; SQLite has no GIN and
reads the lists (audit/selectors.py).

Existing rows get empty lists, which their MAC and hash leave out (AuditEvent._content):
they verify as before. Adding a column with a constant default is not an UPDATE, so the
append-only trigger is not involved."""

from django.db import migrations, models

CREATE_INDEX = (
    "CREATE INDEX audit_event_patient_ids_gin ON audit_auditevent "
    "USING gin (patient_ids jsonb_path_ops)"
)
DROP_INDEX = "DROP INDEX IF EXISTS audit_event_patient_ids_gin"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_INDEX, params=None)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_INDEX, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_admin_log_without_patient_names")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="object_ids",
            field=models.JSONField(blank=True, default=list, help_text="Records a page showed."),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="patient_ids",
            field=models.JSONField(
                blank=True, default=list, help_text="Patients a page showed, when more than one."
            ),
        ),
        migrations.RunPython(create_index, drop_index),
    ]
