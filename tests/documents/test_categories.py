"""Document categories are SPEC §2's six; the ones Nexus used before are migrated."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from documents.models import Document
from tests.factories import PatientFactory, UserFactory

BEFORE = [("documents", "0001_initial")]
AFTER = [("documents", "0002_spec_categories_and_legacy_id")]


def test_the_categories_are_the_specs():
    assert Document.Category.values == ["referral", "report", "image", "consent", "letter", "other"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_imaging_and_photos_to_image_and_keeps_the_rest():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps.get_model("documents", "Document")
        patient, uploader = PatientFactory(), UserFactory()
        for n, category in enumerate(
            ["referral", "report", "imaging", "photo", "consent", "other"]
        ):
            old.objects.create(
                patient_id=patient.pk,
                category=category,
                file=f"patients/{patient.pk}/{n}",
                original_name=f"{category}.pdf",
                content_type="application/pdf",
                size=1,
                sha256=f"{n:064x}",
                uploaded_by_id=uploader.pk,
            )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    moved = dict(Document.objects.values_list("original_name", "category"))
    assert moved == {
        "referral.pdf": "referral",
        "report.pdf": "report",
        "imaging.pdf": "image",
        "photo.pdf": "image",
        "consent.pdf": "consent",
        "other.pdf": "other",
    }
