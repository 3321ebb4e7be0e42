"""Measure API throughput against a large practice on PostgreSQL, as ratios to bare Django.

Seed the database first, then run from the project root through the project's environment:

    export DATABASE_URL=postgres://…
    DJANGO_DEBUG=1 .uv/bin/uv run python manage.py seed_demo --force --patients 100000 \\
        --appointments 1000000
    .uv/bin/uv run python benchmarks/run.py [--duration 10]

(`make benchmark` runs the second line.) It starts gunicorn (sync workers, 2 x cores,
persistent connections, the Redis cache from REDIS_URL) with production-like settings on a free
loopback port, drives each endpoint with wrk at 16 connections, and prints req/s, latency
percentiles and the ratio to /healthz/ (a plain JsonResponse: the framework ceiling). The
ceiling is measured again right before each endpoint, so a machine whose load drifts during
the run still gives fair ratios. Each ratio is checked against its floor from
docs/performance.md; the exit status is 1 if any endpoint falls below its floor. Staff pages
(calendar, chart) run with a signed-in session that each request keeps alive. `--json` prints
the same figures for machines. Needs `wrk` (apt-get install wrk) and REDIS_URL.
"""

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Floors from docs/performance.md: endpoint req/s / healthz req/s in the same run.
RETRIEVE, LIST, SCHEDULE, SEARCH, ANY_INTERACTIVE = 0.25, 0.18, 0.11, 0.11, 0.08
P95_SCRIPT = Path(__file__).resolve().parent / "p95.lua"


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
    from django.test import Client

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
    # A staff session for the HTML pages, stored where the server will look (cache + db).
    browser = Client()
    browser.force_login(user)
    return {
        "session": browser.cookies[settings_value("SESSION_COOKIE_NAME")].value,
        "clinic": str(busiest.clinic_id),
        "token": token,
        "clinician": str(clinician),
        "patient": str(patient),
        "day_start": day.isoformat(),
        "day_end": (day + timedelta(days=1)).isoformat(),
        "date": day.date().isoformat(),
        "week_end": (day + timedelta(days=6)).date().isoformat(),
        "type": str(type_id),
    }


def settings_value(name: str) -> str:
    from django.conf import settings

    return str(getattr(settings, name))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    *, port: int, workers: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """gunicorn with production settings on a loopback port (benchmarks/capacity.py too)."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_STATIC_MANIFEST": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        # Whitenoise's note that collectstatic has not run: the benchmarks ask for no files.
        "PYTHONWARNINGS": "ignore:No directory at",
        # DEBUG off refuses the console e-mail backend (nexus/checks.py); nothing is sent here.
        "EMAIL_URL": "dummymail://",
        # A loaded machine can take longer than the default 30 s over a worker's first
        # request (imports, URL resolver); a killed worker would spoil the warm-up.
        "GUNICORN_TIMEOUT": "120",
        # Measuring throughput, not the rate limits: high enough never to refuse, and per
        # second, so each throttle counts one second's window as production counts its minute.
        "NEXUS_RATE_USER": "100000/s",
        "NEXUS_RATE_SEARCH": "100000/s",
        "NEXUS_RATE_ANON": "100000/s",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "nexus.wsgi",
            "-b",
            f"127.0.0.1:{port}",
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


def wait_until_up(base: str) -> None:
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/healthz/", timeout=1)  # noqa: S310 - loopback
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"gunicorn did not answer {base}/healthz/ within 30 s")


def headers_for(auth: str | None) -> list[str]:
    """`auth` is "Bearer <token>" for the API or "Cookie: ..." for staff pages."""
    if not auth:
        return []
    if auth.startswith("Cookie: "):
        return ["-H", auth]
    return ["-H", f"Authorization: {auth}"]


def wrk(base: str, path: str, auth: str | None, duration: int) -> dict[str, object]:
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency", "-s", str(P95_SCRIPT)]
    cmd += headers_for(auth)
    out = subprocess.run([*cmd, base + path], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.MULTILINE))
    lat["95"] = re.search(r"^p95 (\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": lat.get("50"),
        "p90": lat.get("90"),
        "p95": lat.get("95"),
        "p99": lat.get("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def answers_200(base: str, path: str, auth: str | None) -> bool:
    """A staff page that redirects (signed out, MFA) would count as a success in wrk."""
    request = urllib.request.Request(base + path)  # noqa: S310 - loopback
    if auth and auth.startswith("Cookie: "):
        request.add_header("Cookie", auth.removeprefix("Cookie: "))
    elif auth:
        request.add_header("Authorization", auth)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=120) as response:
            return bool(response.status == 200)
    except OSError:
        return False


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
        default=0,
        help="loopback port for the gunicorn it starts (default: any free port)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--only", default="", help="run only the endpoints whose name contains this text"
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    if not os.environ.get("REDIS_URL"):
        # Without it each worker has its own local-memory cache: sessions, tokens and rate
        # limits would not behave as in production.
        sys.exit("Set REDIS_URL (redis://…/15): the benchmark measures the production cache.")
    setup_django()
    f = fixtures()
    workers = 2 * (os.cpu_count() or 1)
    server = start_server(port=port, workers=workers)
    try:
        wait_until_up(base)
        bearer = f"Bearer {f['token']}"
        cookie = f"Cookie: {settings_value('SESSION_COOKIE_NAME')}={f['session']}"
        day_query = f"start_after={f['day_start']}&start_before={f['day_end']}".replace("+", "%2B")
        cases: list[tuple[str, str, str | None, float]] = [
            ("retrieve one patient", f"/api/v1/patients/{f['patient']}/", bearer, RETRIEVE),
            ("patient list, 25 rows", "/api/v1/patients/", bearer, LIST),
            ("patient search 'smi'", "/api/v1/patients/?search=smi", bearer, SEARCH),
            ("patient search by phone", "/api/v1/patients/?search=0412", bearer, SEARCH),
            (
                "clinician day schedule",
                f"/api/v1/appointments/?clinician={f['clinician']}&{day_query}&page_size=50",
                bearer,
                SCHEDULE,
            ),
            ("appointment list, 25 rows", "/api/v1/appointments/", bearer, LIST),
            (
                "availability, 7 days",
                f"/api/v1/clinicians/{f['clinician']}/availability/?start={f['date']}"
                f"&end={f['week_end']}&appointment_type={f['type']}",
                bearer,
                ANY_INTERACTIVE,
            ),
            (
                "UI calendar day (one clinician)",
                f"/calendar/?clinic={f['clinic']}&date={f['date']}&view=day"
                f"&clinician={f['clinician']}",
                cookie,
                0.0,  # figures only: no floor for pages yet
            ),
            ("UI patient chart", f"/patients/{f['patient']}/", cookie, 0.0),
            # The public /book/ directory has its own fixed 60/min per-address limit, so wrk
            # from one address measures 429s: benchmarks/cpu.py measures it instead.
        ]
        if args.only:
            cases = [case for case in cases if args.only in case[0]]
        below = []
        results = []
        if not args.json:
            print(f"gunicorn sync x {workers}, wrk -t2 -c16 -d{args.duration}s; the ceiling")
            print("(/healthz/) is measured again just before each endpoint.\n")
            print(
                f"{'endpoint':<34} {'req/s':>7} {'ceiling':>8} {'ratio':>6} {'floor':>6}  latency"
            )
        for name, path, auth, floor in cases:
            if not answers_200(base, path, auth):
                sys.exit(f"{name}: {path} does not answer 200; fix the fixtures first.")
            wrk(base, "/healthz/", None, 1)
            ceiling = wrk(base, "/healthz/", None, args.duration)
            wrk(base, path, auth, 2)  # warm up connections and caches
            measured = wrk(base, path, auth, args.duration)
            if not answers_200(base, path, auth):
                # wrk counts a redirect to the sign-in page as a success.
                sys.exit(f"{name}: {path} stopped answering 200 during the run (signed out?).")
            ratio = float(measured["rps"]) / float(ceiling["rps"])  # type: ignore[arg-type]
            flag = "" if ratio >= floor else "  BELOW FLOOR"
            if flag:
                below.append(name)
            results.append(
                {
                    "endpoint": name,
                    "path": path,
                    "ceiling_rps": ceiling["rps"],
                    "ratio": ratio,
                    "floor": floor,
                    **measured,
                }
            )
            if not args.json:
                errors = f" ({measured['non_2xx']} non-2xx!)" if measured["non_2xx"] else ""
                print(
                    f"{name:<34} {measured['rps']:>7.0f} {ceiling['rps']:>8.0f} {ratio:>6.2f}"
                    f" {floor:>6.2f}  p50 {measured['p50']}, p90 {measured['p90']},"
                    f" p95 {measured['p95']},"
                    f" p99 {measured['p99']}{errors}{flag}"
                )
        if args.json:
            print(json.dumps({"workers": workers, "duration": args.duration, "results": results}))
    finally:
        server.terminate()
        server.wait()
    if below:
        sys.exit(f"\nBelow the floors in docs/performance.md: {', '.join(below)}")


if __name__ == "__main__":
    main()
