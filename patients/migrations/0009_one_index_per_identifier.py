"""Phone and Medicare number: one index each, the one their searches read.

`db_index=True` gave each a plain btree and a varchar_pattern_ops "_like" copy. On the
100k-patient copy, after the API and staff pages' benchmark requests, neither plain index
nor the phone "_like" one had been read (pg_stat_user_indexes): the phone search reads
patient_phone_search (0008), the Medicare search the Medicare "_like" copy. Yet the planner
weighs every index of the table for every part of a search. A pattern_ops index also
serves `=` (the SMS sender's lookup by phone, the importer's), so on PostgreSQL one index
per column is enough:

- phone: patient_phone_search alone;
- Medicare number: patient_medicare_search, which also carries what its search branch
  reads (as 0008's phone index does), so the branch is answered from the index.

SQLite has no operator classes nor INCLUDE: there the two columns are left unindexed.
"""

from django.db import migrations

import nexus.fields
import patients.fields

CREATE = [
    "CREATE INDEX patient_medicare_search ON patients_patient"
    " (medicare_number varchar_pattern_ops)"
    " INCLUDE (id, family_name, given_name, preferred_name, archived, phone)",
]

DROP = ["DROP INDEX IF EXISTS patient_medicare_search"]


def _run(statements: list[str]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("patients", "0008_search_branch_indexes")]
    operations = [
        migrations.AlterField(
            model_name="patient",
            name="medicare_number",
            field=patients.fields.MedicareNumberField(blank=True, max_length=10),
        ),
        migrations.AlterField(
            model_name="patient",
            name="phone",
            field=nexus.fields.PhoneNumberField(blank=True, max_length=128, region=None),
        ),
        migrations.RunPython(_run(CREATE), _run(DROP)),
    ]
