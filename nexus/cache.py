"""A Redis cache that an outage slows down instead of taking the site down (security.md R42).

Everything Nexus keeps in the cache can be rebuilt or skipped: sessions are also in the
database (`cached_db`), cached API tokens are looked up again, and rate-limit counters
fail open. So when Redis cannot be reached, reads miss, writes are dropped and `add`
reports success, with an `cache.unavailable` warning in the log. After a failure the cache
is not tried again for `RETRY_SECONDS`, so requests do not each wait for a connect
timeout. `/readyz/` still reports the cache as unavailable.
"""

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import structlog
from django.core.cache.backends.base import DEFAULT_TIMEOUT, MEMCACHE_MAX_KEY_LENGTH, BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger(__name__)

RETRY_SECONDS = 5.0
# count_in_window(): create the window's counter with its timeout if new, add one, and read
# the previous window's counter (0 if there is none), atomically, in one command.
_COUNT_SCRIPT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return {redis.call('INCR', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0')}
"""
_COUNT_SHA = hashlib.sha1(_COUNT_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis's script id
# get_and_count(): read KEYS[1], then for each pair of keys after it count as _COUNT_SCRIPT
# does (ARGV holds each counter's timeout), atomically, in one command.
_GET_AND_COUNT_SCRIPT = """
local reply = {redis.call('GET', KEYS[1]) or false}
for i = 1, #ARGV do
  redis.call('SET', KEYS[2 * i], 0, 'EX', ARGV[i], 'NX')
  reply[2 * i] = redis.call('INCR', KEYS[2 * i])
  reply[2 * i + 1] = tonumber(redis.call('GET', KEYS[2 * i + 1]) or '0')
end
return reply
"""
_GET_AND_COUNT_SHA = hashlib.sha1(_GET_AND_COUNT_SCRIPT.encode()).hexdigest()  # noqa: S324
_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
# The characters django.core.cache.backends.base.memcache_key_warnings() warns about.
_MEMCACHE_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
T = TypeVar("T")


class Counter(NamedTuple):
    """A rate limit's counter for get_and_count(): as count_in_window()'s arguments."""

    key: str
    previous_key: str
    timeout: int


# Per server, shared by the threads of a process (Django makes one backend per thread).
_down_until: dict[str, float] = {}
_lock = threading.Lock()


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's client builds a new `redis.Redis` for every cache call, and its constructor
    (a case-insensitive table of ~200 response callbacks) cost more CPU than the round trip
    itself: ~0.3 ms a call, four or five calls per API request (issue 16). A `redis.Redis`
    over a connection pool is safe to share, so one is kept per pool."""

    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # its private helpers are not in django-stubs
        index = django_client._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = django_client._get_connection_pool(write)
            client = self._clients[index] = django_client._client(connection_pool=pool)
        return client


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = params.setdefault("OPTIONS", {})
        # Fail in well under a second rather than hang a request on a dead host.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 1.0)
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._server_key = str(server)
        self._held: tuple[Any, int, Any] | None = None

    def validate_key(self, key: Any) -> None:
        """Django's warnings for keys memcached could not hold, looked for with one regular
        expression: Django's own check reads the key a character at a time in Python,
        ~8 us a key, three keys on every API request (issue 16)."""
        if len(key) > MEMCACHE_MAX_KEY_LENGTH or _MEMCACHE_UNSAFE.search(key):
            super().validate_key(key)

    def count_in_window(
        self, key: str, previous_key: str, timeout: int, version: Any = None
    ) -> tuple[int, int]:
        """Add one to the counter `key` (created with `timeout` if new) and read the counter
        `previous_key`, in one round trip; (1, 0) when Redis is down, so limits fail open.
        Django's incr() is an EXISTS and an INCRBY, so a rate-limit check cost three round
        trips with the previous window's GET. One script rather than a MULTI/EXEC pipeline of
        five commands: the same atomicity (the counter cannot expire between SET NX and INCR
        and so be left without a timeout), a third of the client's packing and parsing."""
        current = self.make_and_validate_key(key, version=version)
        previous = self.make_and_validate_key(previous_key, version=version)

        def send() -> tuple[int, int]:
            count, before = self._script(_COUNT_SHA, _COUNT_SCRIPT, 2, current, previous, timeout)
            return int(count), int(before)

        return self._call("count_in_window", (1, 0), send)

    def get_and_count(
        self, key: str, counters: Sequence[Counter], version: Any = None
    ) -> tuple[Any, list[tuple[int, int]]]:
        """get(key) and count_in_window() for each counter, in one round trip: an API
        request's token and its user's rate limits (issue 16). With Redis down, a miss and
        (1, 0) for each counter, as get() and count_in_window() would answer."""
        keys = [self.make_and_validate_key(key, version=version)]
        for counter in counters:
            keys.append(self.make_and_validate_key(counter.key, version=version))
            keys.append(self.make_and_validate_key(counter.previous_key, version=version))
        timeouts = [counter.timeout for counter in counters]

        def send() -> tuple[Any, list[tuple[int, int]]]:
            django_client: Any = self._cache  # its serializer is not in django-stubs
            reply = self._script(
                _GET_AND_COUNT_SHA, _GET_AND_COUNT_SCRIPT, len(keys), *keys, *timeouts
            )
            value = None if reply[0] is None else django_client._serializer.loads(reply[0])
            counts = [(int(reply[i]), int(reply[i + 1])) for i in range(1, len(reply), 2)]
            return value, counts

        return self._call("get_and_count", (None, [(1, 0)] * len(counters)), send)

    def _script(self, sha: str, script: str, numkeys: int, *keys_and_args: Any) -> Any:
        """EVALSHA `sha` (EVAL `script` on a server that lacks it: a restarted or new one
        loads it so) on one of the pool's connections, its reply as redis-py parses it.

        The rate limits' and the API token's round trip, on every API request: redis-py's
        per-command layers (its retry policy, observability hooks and response callbacks,
        of which EVALSHA has none) cost ~0.03-0.05 ms of CPU a call (issue 16). Sent on
        the connection directly, as redis-py's own command does. A connection that broke
        while it sat in the pool (a restarted server) is opened again and the command sent
        once more, as redis-py's retry would; a second failure is an outage (_call)."""
        connection = self._script_connection()
        try:
            return _send(connection, "EVALSHA", sha, numkeys, *keys_and_args)
        except NoScriptError:
            return _send(connection, "EVAL", script, numkeys, *keys_and_args)

    def _script_connection(self) -> Any:
        """The connection _script() sends on: taken from the pool once and kept, as this
        backend belongs to one thread. The pool's checkout and return (a deprecation
        wrapper, a lock, metrics hooks and a poll for unread data) cost ~0.05 ms of CPU
        a request (issue 16). Nothing is left unread on it: _send reads every reply, and
        redis-py closes a connection whose read failed (the next send opens it again). A
        forked process takes its own from the pool rather than share the parent's socket."""
        pool = self._cache.get_client(write=True).connection_pool
        held = self._held
        if held is not None and held[0] is pool and held[1] == os.getpid():
            return held[2]
        connection = pool.get_connection()
        self._held = (pool, os.getpid(), connection)
        return connection

    def _call(self, operation: str, fallback: T, call: Callable[[], T]) -> T:
        if time.monotonic() < _down_until.get(self._server_key, 0.0):
            return fallback
        try:
            return call()
        except _OUTAGE as error:
            with _lock:
                was_up = time.monotonic() >= _down_until.get(self._server_key, 0.0)
                _down_until[self._server_key] = time.monotonic() + RETRY_SECONDS
            if was_up:
                # Rate limits fail open while this lasts: say so where monitoring looks.
                log.warning(
                    "cache.unavailable",
                    operation=operation,
                    error=type(error).__name__,
                    fallback="database for sessions and tokens; rate limits not enforced",
                    retry_seconds=RETRY_SECONDS,
                )
            return fallback

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call(
            "add", True, lambda: super(FailOpenRedisCache, self).add(key, value, timeout, version)
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._call(
            "get", default, lambda: super(FailOpenRedisCache, self).get(key, default, version)
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._call(
            "set", None, lambda: super(FailOpenRedisCache, self).set(key, value, timeout, version)
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call(
            "touch", False, lambda: super(FailOpenRedisCache, self).touch(key, timeout, version)
        )

    def delete(self, key: Any, version: Any = None) -> Any:
        return self._call(
            "delete", False, lambda: super(FailOpenRedisCache, self).delete(key, version)
        )

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        return self._call(
            "get_many", {}, lambda: super(FailOpenRedisCache, self).get_many(keys, version)
        )

    def has_key(self, key: Any, version: Any = None) -> Any:
        return self._call(
            "has_key", False, lambda: super(FailOpenRedisCache, self).has_key(key, version)
        )

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        result = self._call(
            "incr", None, lambda: super(FailOpenRedisCache, self).incr(key, delta, version)
        )
        if result is None:
            raise ValueError("the cache is unavailable")  # What a missing key raises.
        return result

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> list[Any]:
        return self._call(
            "set_many",
            list(data),
            lambda: super(FailOpenRedisCache, self).set_many(data, timeout, version),
        )

    def delete_many(self, keys: Iterable[Any], version: Any = None) -> None:
        self._call(
            "delete_many", None, lambda: super(FailOpenRedisCache, self).delete_many(keys, version)
        )

    def clear(self) -> None:
        """Delete the cache's own keys only. Django's RedisCache.clear() is FLUSHDB, which
        would also empty the Celery queues sharing this Redis database (a test's cache
        clear on one worker once wiped the tasks another test had queued)."""

        def delete_own_keys() -> None:
            client = self._cache.get_client(write=True)
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{self.key_prefix}:*", count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    client.delete(*batch)
                    batch.clear()
            if batch:
                client.delete(*batch)

        self._call("clear", None, delete_own_keys)


def _send(connection: Any, *args: Any) -> Any:
    try:
        connection.send_command(*args)
        return connection.read_response()
    except (RedisConnectionError, RedisTimeoutError):
        # redis-py has closed the connection; the next command opens it again.
        connection.send_command(*args)
        return connection.read_response()


def get_and_count(
    cache: BaseCache, key: str, counters: Sequence[Counter]
) -> tuple[Any, list[tuple[int, int]]]:
    """The value of `key` (None if missing) and count_in_window() for each counter: one
    round trip with Redis; any other cache takes one call for each."""
    if hasattr(cache, "get_and_count"):
        return cast(tuple[Any, list[tuple[int, int]]], cache.get_and_count(key, counters))
    value = cache.get(key)
    counts = [count_in_window(cache, c.key, c.previous_key, timeout=c.timeout) for c in counters]
    return value, counts


def count_in_window(
    cache: BaseCache, key: str, previous_key: str, *, timeout: int
) -> tuple[int, int]:
    """Count one more in `key` and read `previous_key`: the rate limits' counters. One round
    trip with Redis; any other cache (local memory in development and tests) takes three."""
    # Duck-typed: DRF's throttles hold django.core.cache.cache, a proxy to the backend.
    if hasattr(cache, "count_in_window"):
        return cast(tuple[int, int], cache.count_in_window(key, previous_key, timeout))
    try:
        count = int(cache.incr(key))
    except ValueError:  # the window's first request
        if cache.add(key, 1, timeout=timeout):
            count = 1
        else:  # another request added it first
            try:
                count = int(cache.incr(key))
            except ValueError:
                count = 1
    return count, int(cache.get(previous_key) or 0)
