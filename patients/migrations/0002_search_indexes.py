"""Indexes for reception's patient search, on PostgreSQL only.

patient_search() runs `UPPER(col::text) LIKE UPPER('smi%')`; only a text_pattern_ops index on
the same expression can serve that under a non-C collation. SQLite has no operator classes,
so these are created with RunPython on PostgreSQL and kept out of the model state.
Phone and Medicare number need nothing here: db_index=True already gives them a
varchar_pattern_ops "_like" index for prefix matches.
"""

from django.db import migrations
from django.db.models import Index
from django.db.models.functions import Upper
from django.contrib.postgres.indexes import OpClass

SEARCH_INDEXES = [
    Index(OpClass(Upper("family_name"), name="text_pattern_ops"), name="patient_family_prefix"),
    Index(OpClass(Upper("given_name"), name="text_pattern_ops"), name="patient_given_prefix"),
    Index(OpClass(Upper("preferred_name"), name="text_pattern_ops"), name="patient_pref_prefix"),
    Index(OpClass(Upper("email"), name="text_pattern_ops"), name="patient_email_prefix"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    Patient = apps.get_model("patients", "Patient")
    for index in SEARCH_INDEXES:
        schema_editor.add_index(Patient, index)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    Patient = apps.get_model("patients", "Patient")
    for index in SEARCH_INDEXES:
        schema_editor.remove_index(Patient, index)


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
