"""The API's Redis round trip (nexus.cache: the token read and the rate limits' counts in
one script) sent on a pooled connection directly (issue 16): the same replies, the script
loaded again where the server lost it, a connection that broke in the pool reopened, and
a forked process on a connection of its own."""

import uuid
import warnings

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning

from nexus.cache import Counter

redis_only = pytest.mark.skipif(
    settings.CACHES["default"]["BACKEND"] != "nexus.cache.FailOpenRedisCache",
    reason="Redis's scripts",
)


@pytest.fixture
def cache():
    backend = caches["default"]
    yield backend
    backend.clear()


def _keys() -> tuple[str, Counter]:
    name = uuid.uuid4().hex
    return f"token-{name}", Counter(f"count-{name}:2", f"count-{name}:1", 60)


@redis_only
def test_get_and_count_reads_the_value_and_counts(cache):
    key, counter = _keys()
    cache.set(key, {"user": 7}, 60)
    cache.set(counter.previous_key, 4, 60)

    first = cache.get_and_count(key, [counter])
    second = cache.get_and_count(key, [counter])

    assert first == ({"user": 7}, [(1, 4)])
    assert second == ({"user": 7}, [(2, 4)])
    assert cache.get_and_count(f"{key}-missing", []) == (None, [])


@redis_only
def test_a_server_that_lost_the_scripts_loads_them_again(cache):
    key, counter = _keys()
    client = cache._cache.get_client(write=True)
    client.script_flush()

    assert cache.get_and_count(key, [counter]) == (None, [(1, 0)])
    client.script_flush()
    assert cache.count_in_window(counter.key, counter.previous_key, 60) == (2, 0)


@redis_only
def test_a_connection_broken_in_the_pool_is_opened_again(cache):
    key, counter = _keys()
    cache.get_and_count(key, [counter])
    client = cache._cache.get_client(write=True)
    # The pooled connection's server end goes away, as when Redis restarts.
    client.client_kill_filter(_type="normal", skipme=False)

    assert cache.get_and_count(key, [counter]) == (None, [(2, 0)])


@redis_only
def test_a_forked_process_sends_on_its_own_connection(cache, monkeypatch):
    key, counter = _keys()
    cache.get_and_count(key, [counter])
    parents = cache._held[2]
    # A worker forked after the parent sent: sharing its socket would mix their replies.
    monkeypatch.setattr("nexus.cache.os.getpid", lambda: -1)

    assert cache.get_and_count(key, [counter]) == (None, [(2, 0)])
    assert cache._held[2] is not parents


@redis_only
def test_keys_memcached_could_not_hold_still_warn(cache):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.make_and_validate_key("a fine key\x7f")
        cache.make_and_validate_key("x" * 300)
        cache.make_and_validate_key("throttle_user_5:29000000")

    assert [type(w.message) for w in caught] == [CacheKeyWarning, CacheKeyWarning]


def test_a_command_on_a_broken_connection_is_sent_once_more():
    from redis.exceptions import ConnectionError as RedisConnectionError

    from nexus.cache import _send

    class Connection:  # redis-py's, whose send fails once as on a socket reset
        sent: list[tuple[str, ...]] = []

        def send_command(self, *args: str) -> None:
            self.sent.append(args)
            if len(self.sent) == 1:
                raise RedisConnectionError("reset")

        def read_response(self) -> str:
            return "reply"

    connection = Connection()

    assert _send(connection, "EVALSHA", "abc", "0") == "reply"
    assert connection.sent == [("EVALSHA", "abc", "0")] * 2
