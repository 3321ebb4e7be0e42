"""The search branch indexes hold the search's sort keys, on PostgreSQL only.

A search page sorts each branch's matches by (LOWER(family_name) COLLATE "C",
LOWER(given_name) COLLATE "C", id) (patients/selectors.py, PatientSearchBranches). The
phone, Medicare, given-name and preferred-name indexes of 0008/0009 held the names as
INCLUDE columns only, so PostgreSQL computed LOWER() twice for every match it sorted: for
"0412" (~1,100 phone matches of 100k) that was half the time the statement ran (issue 16).
Here each of them also holds the sort keys as key columns after its own, and an
index-only scan returns the stored values instead.

The given- and preferred-name indexes then hold `LOWER(family_name) COLLATE "C"` too,
which their branches test to stay disjoint from the family-name one.

Each index is built under a new name before the old one is dropped, then takes the old
name: a search always has an index to read. SQLite has no collation C nor INCLUDE:
nothing there.
"""

from django.db import migrations

FAMILY = '(LOWER(family_name) COLLATE "C")'
GIVEN = '(LOWER(given_name) COLLATE "C")'
PREFERRED = '(LOWER(preferred_name) COLLATE "C")'
NAMES = "family_name, given_name, preferred_name, archived"

# name: (what the index was (0008, 0009), what it becomes)
INDEXES = {
    "patient_phone_search": (
        f"(phone varchar_pattern_ops) INCLUDE (id, {NAMES}, medicare_number)",
        f"(phone varchar_pattern_ops, {FAMILY}, {GIVEN}, id) INCLUDE ({NAMES}, medicare_number)",
    ),
    "patient_medicare_search": (
        f"(medicare_number varchar_pattern_ops) INCLUDE (id, {NAMES}, phone)",
        f"(medicare_number varchar_pattern_ops, {FAMILY}, {GIVEN}, id) INCLUDE ({NAMES}, phone)",
    ),
    "patient_given_search": (
        f"({GIVEN}) INCLUDE (id, {NAMES})",
        f"({GIVEN}, {FAMILY}, id) INCLUDE ({NAMES})",
    ),
    "patient_pref_search": (
        f"({PREFERRED}) INCLUDE (id, {NAMES})",
        f"({PREFERRED}, {FAMILY}, {GIVEN}, id) INCLUDE ({NAMES})",
    ),
}


def _replace(new: int):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, definitions in INDEXES.items():
            schema_editor.execute(
                f"CREATE INDEX {name}_new ON patients_patient {definitions[new]}"
            )
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
            schema_editor.execute(f"ALTER INDEX {name}_new RENAME TO {name}")

    return run


class Migration(migrations.Migration):
    dependencies = [("patients", "0010_list_order_index")]
    operations = [migrations.RunPython(_replace(1), _replace(0))]
