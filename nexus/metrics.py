"""Counters for monitoring, in the Prometheus text format at /metrics.

Counts live in the cache (Redis in production) so every worker process adds to the same
numbers; a cache flush resets them, which Prometheus treats as a counter reset.
"""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

# name -> (help, label, values): every series is listed here, so /metrics always shows all.
COUNTERS = {
    "nexus_booking_funnel_total": (
        "Online booking funnel steps.",
        "step",
        ("directory_search", "slot_view", "booking_started", "booking_completed"),
    ),
    "nexus_sign_ins_total": ("Staff sign-in attempts.", "outcome", ("success", "failure")),
}


def _key(name: str, value: str) -> str:
    return f"metrics:{name}:{value}"


def metric_increment(name: str, value: str) -> None:
    key = _key(name, value)
    try:
        cache.incr(key)
    except ValueError:  # not there yet (or evicted)
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint. Closed unless NEXUS_METRICS_TOKEN is set, and then only
    to `Authorization: Bearer <token>`; 404 otherwise, so it reveals nothing."""
    token = settings.NEXUS_METRICS_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token or not secrets.compare_digest(sent.encode(), token.encode()):
        raise Http404
    keys = [_key(name, v) for name, (_, _, values) in COUNTERS.items() for v in values]
    counts = cache.get_many(keys)
    lines = []
    for name, (help_text, label, values) in COUNTERS.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        lines += [f'{name}{{{label}="{v}"}} {counts.get(_key(name, v), 0)}' for v in values]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4")
