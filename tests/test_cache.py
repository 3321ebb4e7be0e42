"""The cache shares its Redis database with Celery's queues: clearing one leaves the other."""

import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from nexus.celery import app as celery_app

pytestmark = pytest.mark.skipif(
    settings.CACHES["default"]["BACKEND"] != "nexus.cache.FailOpenRedisCache"
    or not settings.CELERY_BROKER_URL.startswith("redis"),
    reason="the cache and the broker share Redis only when Redis is configured",
)


def test_clearing_the_cache_keeps_tasks_waiting_in_the_broker():
    queue = f"nexus-test-{uuid.uuid4().hex[:12]}"
    cache.set("throttle:someone", 3)
    with celery_app.connection_for_write() as conn:
        simple = conn.SimpleQueue(queue)
        simple.put({"task": "waiting"})
        try:
            cache.clear()

            assert cache.get("throttle:someone") is None
            assert simple.qsize() == 1
        finally:
            simple.clear()
            simple.close()
            conn.default_channel.queue_delete(queue)
