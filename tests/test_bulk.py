"""nexus.bulk: the batching the demo seed uses and imports will use."""

import pytest
from django.core.management import get_commands

from clinicians.models import Discipline
from nexus.bulk import batched, bulk_insert


def test_seed_demo_belongs_to_the_nexus_app_because_it_seeds_every_app():
    assert get_commands()["seed_demo"] == "nexus"


def test_batched_yields_lists_of_at_most_the_size_lazily():
    consumed = []

    def rows():
        for i in range(7):
            consumed.append(i)
            yield i

    batches = batched(rows(), 3)

    assert next(batches) == [0, 1, 2]
    assert consumed == [0, 1, 2]  # nothing read ahead of the batch being built
    assert list(batches) == [[3, 4, 5], [6]]


def test_batched_refuses_a_size_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        list(batched([1], 0))


@pytest.mark.django_db
def test_bulk_insert_writes_one_insert_per_batch_and_reports_progress(
    django_assert_num_queries,
):
    seen: list[int] = []
    rows = (Discipline(name=f"Discipline {i}") for i in range(5))

    with django_assert_num_queries(3):
        inserted = bulk_insert(Discipline, rows, batch_size=2, progress=seen.append)

    assert inserted == 5
    assert seen == [2, 4, 5]
    assert Discipline.objects.filter(name__startswith="Discipline ").count() == 5
