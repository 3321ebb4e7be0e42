"""An index on a phone number's first six characters and the search's sort keys, on
PostgreSQL only.

"0412", a mobile's first four digits and what reception types most, asks for the numbers
starting "+61412": ~1,100 of 100k patients. patient_phone_search (0011) holds them in
number order, so a page of 26 read and sorted all of them. This index holds
LEFT(phone, 6) and then the sort keys (patients/selectors.py, Starts.reads_in_order): a
page of that length of prefix reads its 26 entries in name order and stops, and its
capped count reads this index alone (phone INCLUDEd: PostgreSQL answers LEFT(phone, 6)
from an index only when phone is in it). Other lengths keep patient_phone_search.

Its cost: an entry for every patient written (~6.5 MB on 100k patients). SQLite has no
collation C: nothing there.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX patient_phone_area ON patients_patient (LEFT(phone, 6),"
    ' (LOWER(family_name) COLLATE "C"), (LOWER(given_name) COLLATE "C"), id) INCLUDE (phone)'
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS patient_phone_area")


class Migration(migrations.Migration):
    dependencies = [("patients", "0011_search_indexes_hold_the_sort_keys")]
    operations = [migrations.RunPython(create, drop)]
