"""The admin's change log named patients (LogEntry.object_repr = str(patient)) and showed
the names on the admin index; new entries say "Patient #<id>" (audit.admin_mixins.Unnamed),
and this rewrites the entries made before."""

from django.db import migrations


def forwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("admin", "LogEntry")
    patient_type = ContentType.objects.filter(app_label="patients", model="patient").first()
    if patient_type is None:
        return
    entries = LogEntry.objects.filter(content_type=patient_type)
    for entry in entries.only("pk", "object_id").iterator():
        LogEntry.objects.filter(pk=entry.pk).update(object_repr=f"Patient #{entry.object_id}")


class Migration(migrations.Migration):
    dependencies = [
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0005_password_change_action"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
