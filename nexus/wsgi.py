import os

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

# gunicorn runs no system checks: refuse here to serve with settings that leak data.
from nexus.checks import refuse_unsafe_production  # noqa: E402

refuse_unsafe_production()
