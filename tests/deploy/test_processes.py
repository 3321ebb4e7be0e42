"""The image's entry point and gunicorn's settings (issue 15 item 1)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

from nexus.logging import GunicornJsonLogger

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"


def gunicorn_config(**environ: str) -> Config:
    """gunicorn.conf.py as gunicorn reads it, under the given environment."""
    saved = {k: os.environ.get(k) for k in environ}
    os.environ.update(environ)
    try:
        namespace: dict[str, object] = {}
        exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own file
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v
    config = Config()
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_gunicorn_takes_port_and_workers_from_the_environment():
    config = gunicorn_config(PORT="8080", WEB_CONCURRENCY="3", NEXUS_ACCESS_LOG="json")

    assert config.bind == ["0.0.0.0:8080"]
    assert config.workers == 3
    assert config.control_socket_disable is True
    assert config.accesslog == "-"
    assert config.logger_class is GunicornJsonLogger


def test_gunicorn_forks_workers_from_a_loaded_app_and_recycles_them_rarely():
    # Each worker importing the app itself took about 8 s of CPU here, paid again at every
    # recycle: at max_requests 1000 the framework ceiling fell from ~1,100 to 130-260 req/s.
    config = gunicorn_config()

    assert config.preload_app is True
    assert config.max_requests >= 10000


def test_gunicorn_defaults_to_two_workers_per_usable_cpu():
    # An empty value (a blank line in .env) means the default, like an unset one.
    config = gunicorn_config(WEB_CONCURRENCY="", PORT="")

    assert config.workers == 2 * len(os.sched_getaffinity(0))
    assert config.bind == ["0.0.0.0:8000"]


def test_the_json_access_log_is_one_object_without_query_or_referrer(tmp_path):
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = GunicornJsonLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/patients/",
        "QUERY_STRING": "q=Zebrowskavich",
        "RAW_URI": "/patients/?q=Zebrowskavich",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": "https://nexus.example.org/patients/?q=Zebrowskavich",
    }
    response = SimpleNamespace(status="200 OK", sent=1234, headers=[("X-Request-ID", "abc12345")])

    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()

    text = (tmp_path / "access.log").read_text()
    line = json.loads(text)
    assert "Zebrowskavich" not in text
    assert line["path"] == "/patients/"
    assert line["status"] == 200
    assert line["duration_ms"] == 12.0
    assert line["request_id"] == "abc12345"


def run_entrypoint(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DJANGO_SECRET_KEY": "entrypoint-test-key",
        "NEXUS_ENCRYPTION_KEYS": "1Ai8aVAlApH_jVfJ9X3iM86saTkhS7_RboOCNprNlNE=",
        "EMAIL_URL": "dummymail://",
        **extra,
    }
    return subprocess.run(  # noqa: S603
        [str(ENTRYPOINT), *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_the_web_role_loads_the_app_under_gunicorn():
    result = run_entrypoint("web", "--check-config")

    assert result.returncode == 0, result.stderr


def test_the_migrate_role_runs_django_migrate_and_exits(tmp_path):
    database = f"sqlite:///{tmp_path / 'nexus.sqlite3'}"

    # --plan: what `migrate` would apply to an empty database, without applying it.
    result = run_entrypoint("migrate", "--plan", DATABASE_URL=database)

    assert result.returncode == 0, result.stderr
    assert "Planned operations:" in result.stdout
    assert "audit.0001_initial" in result.stdout


def test_other_arguments_run_as_given():
    result = run_entrypoint("python", "-c", "print('as given')")

    assert result.stdout == "as given\n"


def test_gunicorn_hands_a_leaving_worker_to_the_quick_exit():
    config = gunicorn_config()

    assert "leave_worker_quickly" in (ROOT / "gunicorn.conf.py").read_text()
    assert config.worker_exit.__module__ != "gunicorn.config"  # not gunicorn's no-op


# A worker's last moments, as gunicorn's arbiter runs them: SystemExit raised, the hook called
# from the `finally` while it is on its way out. The module's object prints when Python's
# teardown frees it, which the quick exit skips; the exit handler prints what it sees.
LEAVING_WORKER = """
import atexit, logging, sys, threading
import django
django.setup()
from django.db import connection
from nexus.wsgi import leave_worker_quickly

class Teardown:
    def __del__(self):
        print("torn down", flush=True)

kept = Teardown()
connection.ensure_connection()
atexit.register(lambda: print("exit handler ran; open:", connection.connection is not None))
logging.basicConfig(stream=sys.stderr)
logging.getLogger("worker").warning("last words")
if sys.argv[1] == "busy":
    threading.Thread(target=lambda: None, daemon=False).start()
    threading.Thread(target=threading.Event().wait, args=(0.5,), daemon=False).start()
try:
    sys.exit(int(sys.argv[2]))
finally:
    leave_worker_quickly()
"""


def leave_worker(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nexus.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'nexus.sqlite3'}",
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", LEAVING_WORKER, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_leaving_worker_skips_the_teardown_but_not_what_an_exit_must_do(tmp_path):
    result = leave_worker(tmp_path, "idle", "0")

    assert result.returncode == 0, result.stderr
    assert "torn down" not in result.stdout  # the objects were left to the kernel
    assert "exit handler ran; open: False" in result.stdout
    assert "last words" in result.stderr


def test_a_leaving_worker_keeps_its_exit_status_for_the_master(tmp_path):
    # gunicorn's master stops when a worker exits with 3 (it failed to boot).
    result = leave_worker(tmp_path, "idle", "3")

    assert result.returncode == 3
    assert "torn down" not in result.stdout


def test_a_leaving_worker_with_a_thread_still_running_exits_as_usual(tmp_path):
    result = leave_worker(tmp_path, "busy", "3")

    assert result.returncode == 3
    assert "torn down" in result.stdout  # Python's own exit, which waits for the thread


def test_gunicorn_recycles_its_workers_and_answers_throughout(tmp_path):
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'nexus.sqlite3'}",
        "PYTHONWARNINGS": "ignore",
    }
    server = subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "gunicorn", "nexus.wsgi", "-b", f"127.0.0.1:{port}"),
            *("-w", "1", "--max-requests", "2", "--max-requests-jitter", "0"),
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        statuses = [get_status(f"http://127.0.0.1:{port}/healthz/") for _ in range(7)]
        assert server.poll() is None  # the master runs on: no worker exit looked like a failure
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[1]

    assert statuses == [200] * 7
    assert log.count("Worker exiting") >= 4  # three recycled, then the shutdown
    assert "Booting worker" in log
    assert "Exception" not in log


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_status(url: str) -> int:
    """The status of a GET, waiting up to 60 s for the server to come up."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
                return int(response.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
