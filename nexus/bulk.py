"""Bulk loading in batches, for the demo seed and imports: one INSERT per batch, never a
save() per row, and never the whole input in memory at once."""

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from django.db.models import Model

T = TypeVar("T")
M = TypeVar("M", bound=Model)

BATCH_SIZE = 5_000


def batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of at most `size` items, consuming `rows` lazily (itertools.batched is 3.12+)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def bulk_insert(
    model: type[M],
    rows: Iterable[M],
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert unsaved `rows` with one bulk_create per batch; returns how many were inserted.

    `progress` is called with the running total after each batch. Model.save() and signals
    do not run, so callers validate rows first (the same validators as the forms)."""
    inserted = 0
    for batch in batched(rows, batch_size):
        model._default_manager.bulk_create(batch)
        inserted += len(batch)
        if progress is not None:
            progress(inserted)
    return inserted
