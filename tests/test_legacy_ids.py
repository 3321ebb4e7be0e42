"""Ready for the FileMaker import (SPEC §2): the rows it brings over keep their FileMaker id
in `legacy_id`, empty for rows made in Nexus, unique where set."""

import pytest
from django.db import IntegrityError, transaction

from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    DocumentFactory,
)

pytestmark = pytest.mark.django_db

FACTORIES = [ClinicFactory, ClinicianFactory, AppointmentTypeFactory, DocumentFactory]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f._meta.model.__name__)
def test_rows_made_in_nexus_have_no_legacy_id_and_do_not_clash(factory):
    first, second = factory(), factory()

    assert first.legacy_id is None and second.legacy_id is None


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f._meta.model.__name__)
def test_a_legacy_id_is_unique_where_set(factory):
    factory(legacy_id="FM-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        factory(legacy_id="FM-1")

    factory(legacy_id="FM-2")
    assert factory._meta.model.objects.filter(legacy_id__startswith="FM-").count() == 2
