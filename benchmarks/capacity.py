"""How many staff can work at once: the staff mix at a given number of simulated users.

Seed the database as benchmarks/run.py says, then from the project root:

    export DATABASE_URL=postgres://… REDIS_URL=redis://…/15
    .uv/bin/uv run python benchmarks/capacity.py --users 200 [--duration 60]
    .uv/bin/uv run python benchmarks/capacity.py --users 100,300,1000
    .uv/bin/uv run python benchmarks/capacity.py --find-max

It starts gunicorn as benchmarks/run.py does (sync workers, 2 x cores, production settings,
rate limits out of the way) and drives it with locust (FastHttpUser, one process). Each user
waits a think time (5 s on average) between requests and asks, dealt at random in these
shares: patient search (htmx) 25%, patient chart 20%, calendar day of three clinicians 15%,
booking panel start times (htmx) 15%, clinician day schedule (API) 15%, public booking times
10%. Each staff user has a session of their own, kept alive by its requests; anything but a
200 (a redirect to sign-in included) is an error. Figures are measured once every user has
started. For several user counts (or --find-max, which climbs until p95 reaches 100 ms) it
reports the highest count with p95 < 100 ms and no errors. Web server, database and load
generator share this machine: the output says so, with the load generator's own CPU.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import fixtures, free_port, settings_value, setup_django, start_server, wait_until_up

HERE = Path(__file__).resolve().parent
TARGET_P95_MS = 100
LADDER = (50, 100, 150, 200, 300, 400, 500, 700, 1000, 1500, 2000)
SEARCHES = ("smi", "jon", "wil", "bro", "tay", "ngu", "lee", "mar", "and", "0412")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--users",
        default="50",
        help="simulated users, or a comma-separated list of counts to run in turn (default 50)",
    )
    parser.add_argument(
        "--find-max",
        action="store_true",
        help=f"climb {', '.join(map(str, LADDER))} users until p95 reaches {TARGET_P95_MS} ms",
    )
    parser.add_argument(
        "--duration", type=int, default=60, help="seconds measured at each count (default 60)"
    )
    parser.add_argument(
        "--think", type=float, default=5.0, help="mean seconds between a user's requests (5)"
    )
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=0,
        help="users started per second (default: all within 2 think times, at least 5/s)",
    )
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn sync workers"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def staff_mix(f: dict[str, Any]) -> list[dict[str, Any]]:
    """The requests staff make all day, each with the paths to choose from at random."""
    calendar = [
        f"/calendar/?clinic={f['clinic']}&date={day}&view=day{f['three']}" for day in f["days"]
    ]
    booking = [
        f"/calendar/book/?clinic={f['clinic']}&clinician={clinician}"
        f"&appointment_type={f['type']}&date={day}"
        for clinician in f["clinicians"]
        for day in f["days"]
    ]
    schedule = [
        f"/api/v1/appointments/?clinician={clinician}&start_after={start}"
        f"&start_before={end}&page_size=50".replace("+", "%2B")
        for clinician in f["clinicians"]
        for start, end in f["day_bounds"]
    ]
    public = [f"/book/{clinician}/?type={f['online_type']}" for clinician in f["listed"]]

    def kind(name: str, weight: int, auth: str, paths: list[str], **rest: Any) -> dict[str, Any]:
        return {
            "name": name,
            "weight": weight,
            "auth": auth,
            "paths": paths,
            "htmx": False,
            "hx_target": "",
            "marker": "",
            **rest,
        }

    return [
        kind(
            "patient search (htmx)",
            5,
            "staff",
            [f"/patients/?q={q}" for q in SEARCHES],
            htmx=True,
            hx_target="patient-results",
        ),
        kind("patient chart", 4, "staff", [f"/patients/{pk}/" for pk in f["patients"]]),
        kind("calendar day, 3 clinicians", 3, "staff", calendar),
        # The fragment the panel swaps in when the clinician, type or day changes.
        kind(
            "booking panel start times",
            3,
            "staff",
            booking,
            htmx=True,
            hx_target="booking-starts",
            marker='id="booking-start-times"',
        ),
        kind("clinician day schedule (API)", 3, "api", schedule),
        kind("public booking times", 2, "public", public),
    ]


def mix_fixtures(*, sessions: int) -> dict[str, Any]:
    """Ids from the seeded practice, and one signed-in staff session per simulated user."""
    from django.utils import timezone

    from accounts.models import User
    from appointments.models import AppointmentType
    from clinicians.models import Clinic, Clinician
    from patients.models import Patient

    f: dict[str, Any] = fixtures()
    clinic = Clinic.objects.get(pk=f["clinic"])
    staff = Clinician.objects.filter(clinics=clinic, is_active=True).order_by("pk")
    f["clinicians"] = list(staff.values_list("pk", flat=True)[:3])
    f["three"] = "".join(f"&clinician={pk}" for pk in f["clinicians"])
    # Today and the working days after it, in the clinic's zone: what reception looks at.
    today = timezone.localdate(timezone=clinic.tz)
    days = [today + timedelta(days=n) for n in range(7)]
    f["days"] = [day.isoformat() for day in days if day.weekday() < 5]
    f["day_bounds"] = [
        (start.isoformat(), (start + timedelta(days=1)).isoformat())
        for start in (
            datetime.combine(day, datetime.min.time(), tzinfo=clinic.tz)
            for day in days
            if day.weekday() < 5
        )
    ]
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    f["patients"] = ids[:: max(1, len(ids) // 200)]
    listed = Clinician.objects.filter(listed_publicly=True, is_active=True).order_by("pk")
    f["listed"] = list(listed.values_list("pk", flat=True)[:20])
    online = AppointmentType.objects.filter(bookable_online=True, is_active=True)
    f["online_type"] = online.order_by("duration_minutes", "name").values_list("pk", flat=True)[0]
    user = User.objects.get(email="reception@nexus.test")
    f["sessions"] = [f["session"], *(signed_in_session(user) for _ in range(sessions - 1))]
    return f


def signed_in_session(user: Any) -> str:
    """A session signed in as `user`, as Client.force_login leaves it, without the sign-in
    signals (a thousand of those take minutes on a busy machine)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        load_backend,
    )

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The first backend that can load a user, as force_login picks it (axes' cannot).
    session[BACKEND_SESSION_KEY] = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return str(session.session_key)


def warm_up(*, base: str, f: dict[str, Any], rounds: int) -> None:
    """Ask for each kind of request `rounds` times first: a worker's first request imports
    the views and compiles templates (seconds on a busy machine), which is not load."""
    cookie = f"{settings_value('SESSION_COOKIE_NAME')}={f['sessions'][0]}"
    for kind in staff_mix(f):
        for _ in range(rounds):
            request = urllib.request.Request(base + kind["paths"][0])  # noqa: S310 - loopback
            request.add_header("X-Forwarded-For", "10.255.255.255")
            if kind["auth"] == "staff":
                request.add_header("Cookie", cookie)
            elif kind["auth"] == "api":
                request.add_header("Authorization", f"Bearer {f['token']}")
            if kind["htmx"]:
                request.add_header("HX-Request", "true")
                request.add_header("HX-Target", kind["hx_target"])
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                if response.status != 200 or response.url != request.full_url:
                    sys.exit(f"{kind['name']}: {request.full_url} answered {response.status}"
                             f" at {response.url}; fix the fixtures first.")  # fmt: skip


def drive(
    *,
    base: str,
    f: dict[str, Any],
    users: int,
    duration: int,
    think: float,
    spawn_rate: float = 0,
) -> dict[str, Any]:
    """Run the load generator (benchmarks/staff_load.py) once and return its figures."""
    plan = {
        "base": base,
        "users": users,
        "duration": duration,
        "think": think,
        # All users in within two think times: 1,000 users start at 100/s and then offer
        # about 1,000 / 5 s = 200 requests a second.
        "spawn_rate": spawn_rate or max(5.0, users / (2 * think)),
        "kinds": staff_mix(f),
        "sessions": f["sessions"],
        "token": f["token"],
        "cookie_name": settings_value("SESSION_COOKIE_NAME"),
    }
    finished = subprocess.run(
        [sys.executable, str(HERE / "staff_load.py")],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        check=False,
        timeout=plan["users"] / plan["spawn_rate"] + 6 * duration + 300,
    )
    if finished.returncode != 0:
        sys.exit(f"the load generator failed:\n{finished.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    result["users"] = users
    result["think"] = think
    return result


def holds(result: dict[str, Any]) -> bool:
    total = result["total"]
    # A healthy server has a few requests in flight at any moment; a queue means it is behind.
    behind = result["waiting_at_end"] > max(10, total["requests"] // 20)
    return bool(
        total["errors"] == 0
        and not behind
        and total["p95"] is not None
        and total["p95"] < TARGET_P95_MS
    )


def report(result: dict[str, Any]) -> None:
    cpus = os.cpu_count() or 1
    busy = result["machine_busy"]
    print(
        f"\n{result['users']} users, {result['think']:g} s think (about"
        f" {result['users'] / result['think']:.0f} req/s offered), measured {result['seconds']} s;"
        f" load generator {100 * result['load_generator_cpu']:.0f}% of one core"
        + (f", machine {100 * busy:.0f}% busy over {cpus} cores" if busy is not None else "")
    )
    print(
        f"{'request':<30} {'count':>6} {'req/s':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>6}"
    )
    rows = [*result["kinds"].items(), ("all", result["total"])]
    for name, row in rows:
        cells = [
            f"{row[p]:>4} ms" if row[p] is not None else "     -" for p in ("p50", "p95", "p99")
        ]
        print(
            f"{name:<30} {row['requests']:>6} {row['rps']:>6.1f} {' '.join(cells)}"
            f" {row['errors']:>6}"
        )
    print(f"still waiting for an answer at the end: {result['waiting_at_end']}")
    for error in result["errors"][:5]:
        print(f"  error: {error['request']}: {error['error']} x {error['count']}")


def main() -> None:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # long runs: show each count
    counts = list(LADDER) if args.find_max else [int(n) for n in args.users.split(",")]
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL (redis://…/15): sessions and limits must be shared by workers.")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")  # one sign-in line per session
    setup_django()
    f = mix_fixtures(sessions=max(counts))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The public pages see each simulated visitor's own address through one trusted proxy.
    server = start_server(
        port=port,
        workers=args.workers,
        extra_env={"NEXUS_TRUSTED_PROXY_COUNT": "1", "NEXUS_TRUSTED_PROXIES": "127.0.0.1/32"},
    )
    results = []
    try:
        wait_until_up(base)
        if not args.json:
            print(
                f"gunicorn sync x {args.workers} on {base}; web server, database and load"
                f" generator (locust, one process) share this machine ({os.cpu_count()} cores,"
                f" load average {os.getloadavg()[0]:.2f} before the run)."
            )
        warm_up(base=base, f=f, rounds=2 * args.workers)
        for users in counts:
            result = drive(
                base=base,
                f=f,
                users=users,
                duration=args.duration,
                think=args.think,
                spawn_rate=args.spawn_rate,
            )
            result["holds"] = holds(result)
            results.append(result)
            if not args.json:
                report(result)
            if args.find_max and not result["holds"]:
                break
            time.sleep(2)  # let the server's queue drain between counts
    finally:
        server.terminate()
        server.wait()
    held = [r["users"] for r in results if r["holds"]]
    best = max(held) if held else None
    summary = {
        "shared_machine": "web server, database and load generator share this machine",
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "target_p95_ms": TARGET_P95_MS,
        "max_users_within_target": best,
        "results": results,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"\nHighest user count with p95 < {TARGET_P95_MS} ms and no errors: {best or 'none'}"
            f" (of {', '.join(str(r['users']) for r in results)})."
        )


if __name__ == "__main__":
    main()
