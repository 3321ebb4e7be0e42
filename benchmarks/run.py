"""Measure API throughput against a large practice on PostgreSQL, as ratios to bare Django.

Seed the database first, then run from the project root through the project's environment:

    export DATABASE_URL=postgres://…
    DJANGO_DEBUG=1 .uv/bin/uv run python manage.py seed_demo --force --patients 100000 \\
        --appointments 1000000
    .uv/bin/uv run python benchmarks/run.py [--duration 10]

(`make benchmark` runs the second line.) It starts gunicorn (sync workers, 2 x cores,
persistent connections) with production-like settings, drives each endpoint with wrk at 16
connections, and prints req/s, latency percentiles and the ratio to /healthz/ (a plain
JsonResponse: the framework ceiling). Each ratio is checked against its floor from
docs/performance.md; the exit status is 1 if any endpoint falls below its floor.
Needs `wrk` (apt-get install wrk).
"""

import argparse
import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Floors from docs/performance.md: endpoint req/s / healthz req/s in the same run.
RETRIEVE, LIST, SCHEDULE, SEARCH, ANY_INTERACTIVE = 0.25, 0.18, 0.11, 0.11, 0.08


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    # Production settings insist on a key for secrets at rest; the benchmark stores none.
    os.environ.setdefault(
        "NEXUS_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    )
    import django

    django.setup()


def fixtures() -> dict[str, str]:
    """Pick real ids from the seeded practice and issue a token for reception."""
    from datetime import timedelta

    from django.db.models import Count

    from accounts.models import ApiToken, User
    from appointments.models import Appointment
    from clinicians.models import Clinician
    from patients.models import Patient

    user = User.objects.get(email="reception@nexus.test")
    _, token = ApiToken.issue(user=user, name="benchmark", scopes=["*:read", "*:write"])
    clinician = (
        Clinician.objects.annotate(n=Count("appointments"))
        .order_by("-n")
        .values_list("pk", flat=True)
    )[0]
    busiest = Appointment.objects.filter(clinician_id=clinician).order_by("-start").first()
    if busiest is None:
        sys.exit("Seed the database first: seed_demo --force --patients 100000 …")
    day = busiest.start.astimezone(busiest.clinic.tz).replace(hour=0, minute=0)
    patient = Patient.objects.order_by("pk").values_list("pk", flat=True)[
        Patient.objects.count() // 2
    ]
    type_id = busiest.appointment_type_id
    return {
        "token": token,
        "clinician": str(clinician),
        "patient": str(patient),
        "day_start": day.isoformat(),
        "day_end": (day + timedelta(days=1)).isoformat(),
        "date": day.date().isoformat(),
        "type": str(type_id),
    }


def wrk(base: str, path: str, token: str | None, duration: int) -> tuple[float, str]:
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*cmd, base + path], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.MULTILINE))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    note = f" ({non2xx.group(1)} non-2xx!)" if non2xx else ""
    return rps, f"p50 {lat.get('50')}, p90 {lat.get('90')}, p99 {lat.get('99')}{note}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=10,
        metavar="SECONDS",
        help="how long wrk drives each endpoint, after a 2-second warm-up (default 10)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8077,
        help="loopback port for the gunicorn it starts (default 8077)",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    base = f"http://127.0.0.1:{args.port}"
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    setup_django()
    f = fixtures()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_STATIC_MANIFEST": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        # DEBUG off refuses the console e-mail backend (nexus/checks.py); nothing is sent here.
        "EMAIL_URL": "dummymail://",
        # Measuring throughput, not the rate limits.
        "NEXUS_RATE_USER": "1000000/min",
        "NEXUS_RATE_SEARCH": "1000000/min",
        "NEXUS_RATE_ANON": "1000000/min",
    }
    workers = 2 * (os.cpu_count() or 1)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "nexus.wsgi",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(base + "/healthz/", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        cases: list[tuple[str, str, str | None, float]] = [
            ("hello (/healthz/, framework ceiling)", "/healthz/", None, 1.0),
            ("retrieve one patient", f"/api/v1/patients/{f['patient']}/", f["token"], RETRIEVE),
            ("patient list, 25 rows", "/api/v1/patients/", f["token"], LIST),
            ("patient search 'smi'", "/api/v1/patients/?search=smi", f["token"], SEARCH),
            ("patient search by phone", "/api/v1/patients/?search=0412", f["token"], SEARCH),
            (
                "clinician day schedule",
                f"/api/v1/appointments/?clinician={f['clinician']}&start_after={f['day_start']}"
                f"&start_before={f['day_end']}&page_size=50".replace("+", "%2B"),
                f["token"],
                SCHEDULE,
            ),
            ("appointment list, 25 rows", "/api/v1/appointments/", f["token"], LIST),
            (
                "availability, 7 days",
                f"/api/v1/clinicians/{f['clinician']}/availability/?start={f['date']}&end={f['date']}"
                f"&appointment_type={f['type']}",
                f["token"],
                ANY_INTERACTIVE,
            ),
        ]
        baseline = None
        below = []
        print(f"gunicorn sync x {workers}, wrk -t2 -c16 -d{args.duration}s\n")
        print(f"{'endpoint':<40} {'req/s':>8} {'ratio':>6} {'floor':>6}  latency")
        for name, path, token, floor in cases:
            wrk(base, path, token, 2)  # warm up connections and caches
            rps, latency = wrk(base, path, token, args.duration)
            baseline = baseline or rps
            ratio = rps / baseline
            flag = "" if ratio >= floor else "  BELOW FLOOR"
            if flag:
                below.append(name)
            print(f"{name:<40} {rps:>8.0f} {ratio:>6.2f} {floor:>6.2f}  {latency}{flag}")
    finally:
        server.terminate()
        server.wait()
    if below:
        sys.exit(f"\nBelow the floors in docs/performance.md: {', '.join(below)}")


if __name__ == "__main__":
    main()
