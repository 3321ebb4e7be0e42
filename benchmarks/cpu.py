"""CPU per request on one process, in-process through Django's test client: noise-robust
figures for a shared machine, where wall-clock throughput swings with the neighbours' load.

Seed the database as benchmarks/run.py says, then from the project root:

    export DATABASE_URL=postgres://… REDIS_URL=redis://…/15
    .uv/bin/uv run python benchmarks/cpu.py [--requests 100] [--only calendar]

For each request it prints the Python CPU time (time.process_time, so waiting on
PostgreSQL or Redis does not count), the number of SQL queries and the response size, after
one warm-up request. Figures are printed, never asserted: CI runs it at a small size so it
cannot rot (tests/test_benchmarks.py).
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import count as count_from
from itertools import repeat
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import fixtures, setup_django  # a script beside this one


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=100, help="per endpoint (default 100)")
    parser.add_argument("--only", default="", help="only the requests whose name has this text")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def cases(f: dict[str, str]) -> list[tuple[str, str, bool]]:
    """(name, path, staff session?); API requests carry the bearer token instead."""
    day = f"start_after={f['day_start']}&start_before={f['day_end']}".replace("+", "%2B")
    calendar = f"/calendar/?clinic={f['clinic']}&date={f['date']}"
    availability = (
        f"/availability/?start={f['date']}&end={f['week_end']}&appointment_type={f['type']}"
    )
    return [
        ("/healthz/", "/healthz/", False),
        ("API patient retrieve", f"/api/v1/patients/{f['patient']}/", False),
        ("API patient list (25)", "/api/v1/patients/", False),
        ("API search 'smi'", "/api/v1/patients/?search=smi", False),
        ("API search by phone", "/api/v1/patients/?search=0412", False),
        (
            "API clinician day schedule",
            f"/api/v1/appointments/?clinician={f['clinician']}&{day}&page_size=50",
            False,
        ),
        ("API appointment list (25)", "/api/v1/appointments/", False),
        ("UI calendar day, 3 clinicians", f"{calendar}&view=day{f['three']}", True),
        ("UI calendar week, 1 clinician", f"{calendar}&view=week&clinician={f['clinician']}", True),
        # The start times the booking panel swaps in when the type, clinician or day changes
        # (as benchmarks/capacity.py asks for them: htmx).
        (
            "UI booking panel times (htmx)",
            f"/calendar/book/?clinic={f['clinic']}&clinician={f['clinician']}"
            f"&appointment_type={f['type']}&date={f['date']}",
            True,
        ),
        ("UI patient search (htmx)", "/patients/?q=smi", True),
        ("UI patient chart", f"/patients/{f['patient']}/", True),
        ("API availability, 7 days", f"/api/v1/clinicians/{f['clinician']}{availability}", False),
        ("public /book/ directory", "/book/", False),
        ("public /book/ directory, a service", f"/book/?type={f['online_type']}", False),
        ("public /book/<id>/ times", f"/book/{f['listed']}/?type={f['online_type']}", False),
    ]


def main() -> None:
    args = parse_args()
    os.environ.setdefault("DJANGO_STATIC_MANIFEST", "false")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    os.environ.setdefault("EMAIL_URL", "dummymail://")
    # Measuring CPU, not the rate limits (a hundred searches a minute would meet them).
    for scope in ("USER", "SEARCH", "ANON"):
        os.environ.setdefault(f"NEXUS_RATE_{scope}", "100000/s")
    setup_django()
    results = measure(requests=args.requests, only=args.only)
    if args.json:
        print(json.dumps({"requests": args.requests, "results": results}))
        return
    for row in results:
        print(
            f"{row['request']:<32} {row['python_cpu_ms']:>7.2f} ms  {row['queries']:>3} queries"
            f"  {row['bytes']:>7} B"
        )


def measure(*, requests: int, only: str = "") -> list[dict[str, object]]:
    """CPU ms, queries and bytes per request for each case (Django must be set up)."""
    from django.conf import settings
    from django.test.utils import override_settings

    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        return _measure(requests=requests, only=only)


def _measure(*, requests: int, only: str) -> list[dict[str, object]]:
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    from appointments.models import AppointmentType
    from clinicians.models import Clinician

    f = fixtures()
    online = AppointmentType.objects.filter(bookable_online=True, is_active=True).order_by("pk")
    f["online_type"] = str(online.values_list("pk", flat=True)[0])
    listed = Clinician.objects.filter(listed_publicly=True, is_active=True).order_by("pk")
    f["listed"] = str(listed.values_list("pk", flat=True)[0])
    three = Clinician.objects.filter(clinics=int(f["clinic"]), is_active=True).order_by("pk")[:3]
    f["three"] = "".join(f"&clinician={pk}" for pk in three.values_list("pk", flat=True))
    staff = Client()
    staff.cookies[settings.SESSION_COOKIE_NAME] = f["session"]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {f['token']}")
    results = []
    for name, path, is_staff in cases(f):
        if only and only not in name:
            continue
        client = staff if is_staff else api
        # The panel's times are asked for by htmx, naming the part it swaps in, as the
        # panel does when the type, clinician or day changes.
        headers = {}
        if path.startswith("/calendar/book/"):
            headers = {"HX-Request": "true", "HX-Target": "booking-starts"}
        # The public pages limit each address to a minute's worth of visits (nexus.ratelimit):
        # each request comes from its own address, paying the limiter but never meeting it.
        addresses: Iterator[str] = repeat("127.0.0.1")
        if path.startswith("/book/"):
            addresses = (f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in count_from(1))
        first = client.get(path, headers=headers, REMOTE_ADDR=next(addresses))
        if first.status_code != 200:
            sys.exit(f"{name}: {path} answered {first.status_code}; fix the fixtures first.")
        queries: list[str] = []

        def count(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
            queries.append(sql)
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(count))
            response = client.get(path, headers=headers, REMOTE_ADDR=next(addresses))
        started = time.process_time()
        for _ in range(requests):
            client.get(path, headers=headers, REMOTE_ADDR=next(addresses))
        cpu_ms = 1000 * (time.process_time() - started) / requests
        row = {"request": name, "python_cpu_ms": round(cpu_ms, 2), "queries": len(queries)}
        row["bytes"] = len(response.content)
        results.append(row)
    return results


if __name__ == "__main__":
    main()
