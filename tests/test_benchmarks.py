"""The benchmarks run at a small size so they cannot rot (issue 16): their figures are
printed, never asserted; what is asserted is that every request answered and was counted."""

import sys
from pathlib import Path

import pytest
from django.core.management import call_command

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import cpu  # benchmarks/ is a folder of scripts, not a package

pytestmark = pytest.mark.django_db


def test_the_cpu_benchmark_runs_every_request_on_a_small_practice(settings, capsys):
    settings.DEBUG = True  # seed_demo refuses to seed with DEBUG off unless forced
    call_command("seed_demo", "--patients", "30", "--appointments", "300", verbosity=0)

    results = cpu.measure(requests=1)

    with capsys.disabled():
        for row in results:
            print(f"{row['request']:<32} {row['python_cpu_ms']:>7} ms {row['queries']:>3} queries")
    assert [row["request"] for row in results] == [name for name, _, _ in cpu.cases(FIXTURE)]
    by_name = {row["request"]: row for row in results}
    assert by_name["/healthz/"]["queries"] == 0
    # Each page read the database, and no page is near the sizes that made the calendar slow.
    for name, row in by_name.items():
        assert name == "/healthz/" or row["queries"] > 0, name
        assert 0 < int(row["bytes"]) < 200_000, name  # type: ignore[call-overload]


FIXTURE = dict.fromkeys(
    ("day_start", "day_end", "clinic", "date", "patient", "clinician", "three", "token"), ""
)
