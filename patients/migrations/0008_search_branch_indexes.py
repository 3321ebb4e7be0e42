"""Indexes for reception's patient search read branch by branch, on PostgreSQL only.

patient_search_page() (patients/selectors.py) asks each branch of a search for its first
rows in name order: `LOWER(col) COLLATE "C" LIKE 'smi%'` per name column, a phone prefix,
a Medicare prefix. A plain btree on `LOWER(col) COLLATE "C"` serves the prefix as a range
under any database collation; the family-name index also holds the sort keys, so where the
database sorts by code point (C.UTF-8) a page of "smi" reads its 26 entries and stops.
Each index carries the columns a search reads (INCLUDE), so the branches and the count
are answered from the index without visiting the table.

They replace 0002's UPPER(...) text_pattern_ops name indexes, which nothing asks for
any more (the email one stays). SQLite has no collation C nor INCLUDE: nothing there.
"""

from django.db import migrations

COVERING = "INCLUDE (id, family_name, given_name, preferred_name, archived)"

CREATE = [
    "CREATE INDEX patient_family_search ON patients_patient"
    ' ((LOWER(family_name) COLLATE "C"), (LOWER(given_name) COLLATE "C"), id)'
    " INCLUDE (family_name, given_name, preferred_name, archived)",
    "CREATE INDEX patient_given_search ON patients_patient"
    f' ((LOWER(given_name) COLLATE "C")) {COVERING}',
    "CREATE INDEX patient_pref_search ON patients_patient"
    f' ((LOWER(preferred_name) COLLATE "C")) {COVERING}',
    # The phone branch is filtered by the whole search too, which names the Medicare number.
    "CREATE INDEX patient_phone_search ON patients_patient (phone varchar_pattern_ops)"
    " INCLUDE (id, family_name, given_name, preferred_name, archived, medicare_number)",
    "DROP INDEX IF EXISTS patient_family_prefix",
    "DROP INDEX IF EXISTS patient_given_prefix",
    "DROP INDEX IF EXISTS patient_pref_prefix",
]

DROP = [
    "DROP INDEX IF EXISTS patient_family_search",
    "DROP INDEX IF EXISTS patient_given_search",
    "DROP INDEX IF EXISTS patient_pref_search",
    "DROP INDEX IF EXISTS patient_phone_search",
    "CREATE INDEX patient_family_prefix ON patients_patient"
    " ((UPPER(family_name::text)) text_pattern_ops)",
    "CREATE INDEX patient_given_prefix ON patients_patient"
    " ((UPPER(given_name::text)) text_pattern_ops)",
    "CREATE INDEX patient_pref_prefix ON patients_patient"
    " ((UPPER(preferred_name::text)) text_pattern_ops)",
]


def _run(statements: list[str]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("patients", "0007_reminder_channel")]
    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
