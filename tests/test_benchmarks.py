"""The benchmarks run at a small size so they cannot rot (issue 16): their figures are
printed, never asserted; what is asserted is that every request answered and was counted."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import capacity  # benchmarks/ is a folder of scripts, not a package
import cpu

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
    # The public booking pages are the exception: anonymous and the same for everyone, they
    # are served from the cache (booking/views.py) within issue 16's budget of 5 queries;
    # so are the booking panel's start times, whose clinic, clinician, type and times all
    # come from the cache (appointments/calendar.py practice_setup, booking_starts).
    for name, row in by_name.items():
        if name.startswith("public ") or name.startswith("UI booking panel"):
            assert row["queries"] <= 5, name  # type: ignore[operator]
        else:
            assert name == "/healthz/" or row["queries"] > 0, name
        assert 0 < int(row["bytes"]) < 200_000, name  # type: ignore[call-overload]


FIXTURE = dict.fromkeys(
    (
        "day_start",
        "day_end",
        "clinic",
        "date",
        "week_end",
        "type",
        "patient",
        "clinician",
        "three",
        "token",
        "online_type",
        "listed",
    ),
    "",
)


class OneRequestAtATime(LiveServerThread):
    """Django's live server without threads: on SQLite the test database lives in memory
    and its one connection is shared with this server, so requests must take turns."""

    def _create_server(self, connections_override=None):  # type: ignore[no-untyped-def]
        return WSGIServer(
            (self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False
        )


@pytest.fixture
def server(transactional_db, settings) -> Iterator[str]:
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    # As benchmarks/capacity.py runs gunicorn: simulated visitors have addresses of their own.
    settings.NEXUS_TRUSTED_PROXY_COUNT = 1
    settings.NEXUS_TRUSTED_PROXIES = ["127.0.0.1/32"]
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = OneRequestAtATime(
        "127.0.0.1", static_handler=lambda app: app, connections_override=shared
    )
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


def test_the_capacity_benchmark_counts_every_request_of_the_staff_mix(settings, server, capsys):
    settings.DEBUG = True
    call_command("seed_demo", "--patients", "30", "--appointments", "300", verbosity=0)
    settings.DEBUG = False
    fixtures = capacity.mix_fixtures(sessions=5)
    capacity.warm_up(base=server, f=fixtures, rounds=1)

    # Locust itself, in a process of its own, against the server above: 5 users, 1 s think.
    result = capacity.drive(base=server, f=fixtures, users=5, duration=10, think=1.0)

    with capsys.disabled():
        capacity.report(result)
    kinds = [kind["name"] for kind in capacity.staff_mix(fixtures)]
    assert list(result["kinds"]) == kinds
    # Every kind of request was made and answered 200 (a sign-in redirect is an error).
    assert result["errors"] == []
    for name, row in result["kinds"].items():
        assert row["requests"] > 0, name
        assert row["errors"] == 0, name
    assert result["total"]["requests"] == sum(row["requests"] for row in result["kinds"].values())
