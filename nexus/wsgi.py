import atexit
import os
import sys
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")

application = get_wsgi_application()


def _load_every_view() -> None:
    """Import the URL conf and every view now rather than in the first request (about 4 s:
    the vendor SDKs come with the views). gunicorn loads this module once in the master
    (`preload_app`) and forks workers that are ready at once. Any database connection
    opened meanwhile is closed, so no two workers share one."""
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - loading is the point
    connections.close_all()


_load_every_view()


def _hide_server_header() -> None:
    """gunicorn writes "Server: gunicorn" into every response itself, after the app has
    answered, so no middleware can drop it: a scanner learns what serves Nexus for free
    (issue 12 item 12). Workers import this module, so the change holds in each."""
    try:
        from gunicorn.http.wsgi import Response
    except ImportError:  # another server (runserver, tests)
        return
    if getattr(Response.default_headers, "nexus_hidden", False):
        return
    default_headers = Response.default_headers

    def without_server(self: Response) -> list[str]:
        return [h for h in default_headers(self) if not h.lower().startswith("server:")]

    without_server.nexus_hidden = True  # type: ignore[attr-defined]
    Response.default_headers = without_server


_hide_server_header()


def leave_worker_quickly() -> None:
    """End a gunicorn worker that is on its way out (recycled after `max_requests`, or shut
    down) without Python's teardown, which frees every object one by one. The worker's
    objects were mostly made in the master before the fork, so freeing them writes to each
    page they share with it and the kernel copies every one: 0.6 s of a core per recycled
    worker here, while the master waits for it to go before forking the next (one worker:
    requests stalled 0.65 s at every recycle; four, at `max_requests` 500, served a patient
    search at 370 req/s against 580 with none). Exiting at once it took 0.02 s.

    What an exit must still do is done first: the last second's request figures sent
    (nexus.metrics, otherwise lost), every database connection closed as PostgreSQL
    expects, the interpreter's exit handlers run (logging's flush among them) and the
    standard streams flushed. The exit status is the worker's own, which gunicorn's master
    reads (3 means it failed to boot). Called in the worker by gunicorn's `worker_exit`
    hook (gunicorn.conf.py) while the worker's SystemExit is on its way out; with another
    exception, or with a non-daemon thread still running, it returns and the usual exit
    follows."""
    leaving = sys.exc_info()[1]
    if not isinstance(leaving, SystemExit):
        return
    if not (leaving.code is None or isinstance(leaving.code, int)):
        return  # a message to print: Python's exit prints it
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        return  # Python's exit waits for it
    from django.db import connections

    from nexus.metrics import http_metrics_flush

    http_metrics_flush()
    connections.close_all()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(leaving.code or 0)


# gunicorn runs no system checks: refuse here to serve with settings that leak data.
from nexus.checks import refuse_unsafe_production  # noqa: E402

refuse_unsafe_production()
