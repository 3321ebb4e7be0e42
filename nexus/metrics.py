"""Monitoring numbers, in the Prometheus text format at /metrics.

Counters and histograms live in the cache's Redis (one hash per metric, a field per label
set), so every gunicorn worker, every web instance and every Celery worker adds to the same
numbers, and one scrape of /metrics through the load balancer shows the whole deployment,
however many instances autoscaling runs. (deploy/README.md, "Monitoring", argues this
against prometheus_client's per-process multiprocess mode.) Without Redis (development,
tests) they live in the local memory cache of the one process. A cache flush resets them,
which Prometheus treats as a counter reset; a Redis outage drops increments, never a
request.

Label values are always from a closed set (URL pattern names, task names, status codes):
never a raw path, which would carry ids, or anything a visitor typed. The outbox gauges
are read from the database at scrape time.

prometheus_client only writes the text format here (a custom collector).
"""

import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

_SEP = "\x1f"  # between label values in a hash field; never in a pattern or task name
_local_lock = threading.Lock()


def _backend() -> Any:
    return caches["default"]


def _hash_key(name: str) -> str:
    return str(_backend().make_and_validate_key(f"metrics:{name}"))


def _add(updates: Sequence[tuple[str, str, float]]) -> None:
    """Add each amount to its (metric, field); one round trip to Redis for all of them."""
    backend = _backend()
    if isinstance(backend, RedisCache):

        def send() -> None:
            pipe = backend._cache.get_client(write=True).pipeline(transaction=False)
            for name, field_name, amount in updates:
                if float(amount).is_integer():
                    pipe.hincrby(_hash_key(name), field_name, int(amount))
                else:
                    pipe.hincrbyfloat(_hash_key(name), field_name, amount)
            pipe.execute()

        _redis_call(backend, "metrics_add", None, send)
        return
    with _local_lock:  # the local memory cache: one process, so a lock is enough
        for name, field_name, amount in updates:
            key = f"metrics:{name}"
            values = backend.get(key) or {}
            values[field_name] = values.get(field_name, 0) + amount
            backend.set(key, values, timeout=None)


def _read(names: Iterable[str]) -> dict[str, dict[str, float]]:
    names = list(names)
    backend = _backend()
    if isinstance(backend, RedisCache):

        def fetch() -> dict[str, dict[str, float]]:
            pipe = backend._cache.get_client().pipeline(transaction=False)
            for name in names:
                pipe.hgetall(_hash_key(name))
            return {
                name: {k.decode(): float(v) for k, v in raw.items()}
                for name, raw in zip(names, pipe.execute(), strict=True)
            }

        return _redis_call(backend, "metrics_read", {}, fetch)
    stored = backend.get_many([f"metrics:{n}" for n in names])
    return {n: dict(stored.get(f"metrics:{n}") or {}) for n in names}


def _redis_call(backend: Any, operation: str, fallback: Any, call: Any) -> Any:
    # FailOpenRedisCache (nexus/cache.py) skips Redis for a while after an outage and
    # warns once; monitoring must never fail the request it measures.
    if hasattr(backend, "_call"):
        try:
            return backend._call(operation, fallback, call)
        except RedisError as error:
            log.warning("metrics.unavailable", error=type(error).__name__)
            return fallback
    try:
        return call()
    except (RedisError, OSError) as error:
        log.warning("metrics.unavailable", error=type(error).__name__)
        return fallback


@dataclass(frozen=True)
class Counter:
    name: str
    help: str
    labels: tuple[str, ...]
    # Label sets shown at 0 before anything happened, so rates and alerts see the series.
    preset: tuple[tuple[str, ...], ...] = ()

    def inc(self, *values: str, amount: int = 1) -> None:
        _add([(self.name, self._field(values), amount)])

    def _field(self, values: Sequence[str]) -> str:
        if len(values) != len(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {values!r}")
        return _SEP.join(values)

    def collect(self, stored: dict[str, float]) -> Metric:
        family = CounterMetricFamily(
            self.name.removesuffix("_total"), self.help, labels=self.labels
        )
        series = {_SEP.join(p): 0.0 for p in self.preset} | stored
        for field_name, value in sorted(series.items()):
            family.add_metric(field_name.split(_SEP) if self.labels else [], value)
        return family


@dataclass(frozen=True)
class Histogram:
    """Stored as one count per bucket (not cumulative: one increment per observation),
    plus the sum; the cumulative buckets Prometheus expects are added up when scraped."""

    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]
    preset: tuple[tuple[str, ...], ...] = field(default=())

    def observe_updates(self, values: Sequence[str], amount: float) -> list[tuple[str, str, float]]:
        labels = _SEP.join(values)
        index = next((i for i, b in enumerate(self.buckets) if amount <= b), len(self.buckets))
        return [
            (self.name, f"{labels}{_SEP}b{index}", 1),
            (self.name, f"{labels}{_SEP}sum", round(amount, 6)),
        ]

    def collect(self, stored: dict[str, float]) -> Metric:
        family = HistogramMetricFamily(self.name, self.help, labels=self.labels)
        per_series: dict[str, dict[str, float]] = {_SEP.join(p): {} for p in self.preset}
        for field_name, value in stored.items():
            labels, _, part = field_name.rpartition(_SEP)
            per_series.setdefault(labels, {})[part] = value
        for labels, parts in sorted(per_series.items()):
            running = 0.0
            buckets = []
            for i, bound in enumerate((*self.buckets, float("inf"))):
                running += parts.get(f"b{i}", 0.0)
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            family.add_metric(labels.split(_SEP), buckets, parts.get("sum", 0.0))
        return family


# The p95 > 2 s alert needs a bucket edge at 2.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
HTTP_DURATION = Histogram(
    "nexus_http_request_duration_seconds",
    "Time to answer a request, by URL pattern name and method.",
    ("route", "method"),
    LATENCY_BUCKETS,
)
HTTP_RESPONSES = Counter(
    "nexus_http_responses_total",
    "Responses by URL pattern name, method and status code.",
    ("route", "method", "status"),
)
AUDIT_WRITE_FAILURES = Counter(
    "nexus_audit_write_failures_total",
    "Audit events that could not be written (by action); the access they describe was refused.",
    ("action",),
    preset=(("read",), ("create",), ("update",)),
)
CELERY_TASKS = Counter(
    "nexus_celery_tasks_total",
    "Celery task runs by task name and outcome (success, failure, retry, expired, revoked).",
    ("task", "outcome"),
)
BOOKING_FUNNEL = Counter(
    "nexus_booking_funnel_total",
    "Online booking funnel steps.",
    ("step",),
    preset=(("directory_search",), ("slot_view",), ("booking_started",), ("booking_completed",)),
)
SIGN_INS = Counter(
    "nexus_sign_ins_total",
    "Staff sign-in attempts.",
    ("outcome",),
    preset=(("success",), ("failure",)),
)
STORED: tuple[Counter | Histogram, ...] = (
    HTTP_DURATION,
    HTTP_RESPONSES,
    AUDIT_WRITE_FAILURES,
    CELERY_TASKS,
    BOOKING_FUNNEL,
    SIGN_INS,
)

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


# Request figures are added up in the process and sent to Redis at most once a second (by
# the next request, or by a thread when the worker falls idle): a Redis pipeline per request
# cost ~0.35 ms of CPU, a tenth of a small API read (issue 16). A scrape sees them up to a
# second late; a worker killed outright loses its last second.
FLUSH_SECONDS = 1.0
# Off in tests (tests/conftest.py), whose counts must not arrive in the next test.
FLUSH_IN_BACKGROUND = True
_pending: dict[tuple[str, str], float] = {}
_pending_lock = threading.Lock()
_flushed_at = 0.0
_flusher_pid = 0


def http_request_observe(*, route: str, method: str, status: int, seconds: float) -> None:
    """One request answered: its latency and its status."""
    global _flushed_at
    method = method if method in _METHODS else "other"
    updates = [
        *HTTP_DURATION.observe_updates((route, method), seconds),
        (HTTP_RESPONSES.name, _SEP.join((route, method, str(status))), 1),
    ]
    now = time.monotonic()
    with _pending_lock:
        for name, field_name, amount in updates:
            _pending[(name, field_name)] = _pending.get((name, field_name), 0) + amount
        due = now - _flushed_at >= FLUSH_SECONDS
        if due:
            _flushed_at = now
    if due:
        http_metrics_flush()
    elif FLUSH_IN_BACKGROUND and _flusher_pid != os.getpid():
        _start_flusher()


def http_metrics_flush() -> None:
    """Send the request figures added up in this process."""
    with _pending_lock:
        updates = [(name, field_name, amount) for (name, field_name), amount in _pending.items()]
        _pending.clear()
    if updates:
        _add(updates)


def _start_flusher() -> None:
    # One per process (a forked worker does not inherit its parent's thread).
    global _flusher_pid
    with _pending_lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True).start()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        try:
            http_metrics_flush()
        except Exception as error:  # monitoring never stops: the next round tries again
            log.warning("metrics.flush_failed", error=type(error).__name__)


# Undelivered outbox rows: waiting to be sent, being sent, or lost mid-send (staff decide).
OUTBOX_PENDING = ("queued", "sending")
OUTBOX_WATCHED = (*OUTBOX_PENDING, "unknown")
OUTBOX_DEPTH = "nexus_outbox_messages"
OUTBOX_AGE = "nexus_outbox_oldest_age_seconds"


def exported_series() -> dict[str, tuple[str, ...]]:
    """Every sample name /metrics writes, with its label names. The alert rules in
    deploy/monitoring/ are checked against this (deploy/tools/alerts.py)."""
    series: dict[str, tuple[str, ...]] = {OUTBOX_DEPTH: ("status",), OUTBOX_AGE: ()}
    for metric in STORED:
        if isinstance(metric, Histogram):
            series[f"{metric.name}_bucket"] = (*metric.labels, "le")
            series[f"{metric.name}_sum"] = metric.labels
            series[f"{metric.name}_count"] = metric.labels
        else:
            series[metric.name] = metric.labels
    return series


def _outbox_families() -> Iterator[Metric]:
    from integrations.models import Message  # the app registry is ready by scrape time

    rows: dict[str, dict[str, Any]] = {
        row["status"]: dict(row)
        for row in Message.objects.filter(status__in=OUTBOX_WATCHED)
        .values("status")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by()
    }
    depth = GaugeMetricFamily(
        OUTBOX_DEPTH,
        "Outbox rows not yet delivered, by status (queued, sending, unknown).",
        labels=("status",),
    )
    for status in OUTBOX_WATCHED:
        depth.add_metric([status], rows[status]["n"] if status in rows else 0)
    yield depth
    oldest = min(
        (rows[s]["oldest"] for s in OUTBOX_PENDING if s in rows and rows[s]["oldest"]),
        default=None,
    )
    age = (timezone.now() - oldest) if oldest else timedelta(0)
    yield GaugeMetricFamily(
        OUTBOX_AGE,
        "Age of the oldest queued or sending outbox row (0 when none waits).",
        value=max(age.total_seconds(), 0.0),
    )


class _Collector(Collector):
    def collect(self) -> Iterator[Metric]:
        http_metrics_flush()  # this process's latest, at least
        stored = _read(m.name for m in STORED)
        for metric in STORED:
            yield metric.collect(stored.get(metric.name, {}))
        try:
            outbox = list(_outbox_families())
        except DatabaseError as error:
            # The request figures still answer while the database is down; the outbox
            # gauges go missing, which the outbox alert's absent() notices.
            log.warning("metrics.outbox_unavailable", error=type(error).__name__)
            outbox = []
        yield from outbox


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint. Closed unless NEXUS_METRICS_TOKEN is set, and then only
    to `Authorization: Bearer <token>`; 404 otherwise, so it reveals nothing."""
    token = settings.NEXUS_METRICS_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token or not secrets.compare_digest(sent.encode(), token.encode()):
        raise Http404
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return HttpResponse(generate_latest(registry), content_type="text/plain; version=0.0.4")
