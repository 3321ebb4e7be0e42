"""gunicorn settings, read from the working directory by `gunicorn nexus.wsgi` (the image's
`web` role runs exactly that; deploy/docker-entrypoint.sh).

Whenever the access log is on, it names the path without its query string: search terms
are patient names, mobiles and Medicare numbers (issue 12 item 7, security.md R14). No
referrer either: it carries the previous page's query. The request id ties a line to the
app's own logs. In the image (`NEXUS_ACCESS_LOG=json`) every line is one JSON object
(nexus.logging.GunicornJsonLogger) with the same fields.
"""

import os
from typing import Any


def _cpus() -> int:
    # The CPUs this process may run on; os.cpu_count() reports the host's on Fargate and
    # Cloud Run, which would start far too many workers for a 1-vCPU task.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Sync workers, 2 x CPUs: of 2, 3, 4 and 6 measured on 2 cores, 4 was the steadiest for API
# reads, and gthread measured half the throughput on ORM endpoints (docs/performance.md).
# The manifests set WEB_CONCURRENCY to match their CPU limit.
bind = f"0.0.0.0:{os.environ.get('PORT') or 8000}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _cpus())
worker_class = "sync"
# Below Cloud Run's request timeout and the ALB's idle timeout (60 s); SIGTERM to SIGKILL is
# about 10 s on Cloud Run and 30 s on ECS (stopTimeout), so in-flight requests can finish.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 8)
# Load the app once in the master and fork the workers from it. Importing Django, the
# vendor SDKs and every view costs about 8 s of CPU on a 2-core machine; without this each
# worker paid it at start and again after every recycle, while its share of requests waited
# (at max_requests 1000 a busy worker restarted every few seconds: /healthz/ fell from
# about 1,700 to 260 req/s). nexus/wsgi.py loads the URL conf too and leaves no database
# connection open for the workers to share.
preload_app = True
# Recycle workers now and then so a slow leak never takes a task down; with the app
# preloaded a recycled worker is a fork, ready at once, and the one leaving skips Python's
# teardown (worker_exit below).
max_requests = 10000
max_requests_jitter = 1000
# Heartbeat files in memory: a container's disk can stall under load (gunicorn FAQ).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn 27's control socket lives in $HOME, which the image's user cannot write.
control_socket_disable = True
# The load balancer (ALB, Cloud Run's front end) is the only way in; Django decides which
# X-Forwarded-* to believe (NEXUS_TRUSTED_PROXY_COUNT, SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = "*"

if os.environ.get("NEXUS_ACCESS_LOG", "") in ("json", "text"):
    accesslog = "-"
errorlog = "-"
if os.environ.get("NEXUS_ACCESS_LOG", "") == "json":
    logger_class = "nexus.logging.GunicornJsonLogger"

access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'
)


def worker_exit(server: Any, worker: Any) -> None:
    """A worker leaves in 0.02 s rather than 0.6 s (nexus.wsgi.leave_worker_quickly)."""
    if worker.pid == os.getpid():  # the master calls it too, for a worker already gone
        from nexus.wsgi import leave_worker_quickly

        leave_worker_quickly()
