"""A real Celery worker on Redis, killed with SIGKILL in the middle of 200 sends.

What must hold (issue 13): every row ends sent, failed or unknown; the provider received
each message at most once; none is lost. PostgreSQL + Redis only: the worker is another
process, which the in-memory SQLite test database cannot be shared with.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from integrations.models import Message
from nexus.celery import app as celery_app
from tests.factories import PatientFactory
from tests.fakes.smsbroadcast import FakeSmsBroadcast

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 200

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="a real worker needs PostgreSQL and Redis",
    ),
    pytest.mark.django_db(transaction=True),
]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def queue() -> Iterator[str]:
    # A queue of our own, so parallel test runs sharing this Redis never meet.
    name = f"nexus-test-{uuid.uuid4().hex[:12]}"
    yield name
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_delete(name)


@pytest.fixture
def start_worker(queue: str, fake_sms: FakeSmsBroadcast, tmp_path: Path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "NEXUS_OUTBOX_LEASE_SECONDS": "3",
        "DJANGO_LOG_LEVEL": "WARNING",
        **{name: str(value) for name, value in fake_sms.settings().items()},
    }
    workers: list[subprocess.Popen[bytes]] = []

    def start(n: int) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{n}.log").open("wb")
        worker = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "nexus",
                "worker",
                "-P",
                "threads",
                "-c",
                "2",
                "-Q",
                queue,
                "-n",
                f"{queue}-{n}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Message.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_a_worker_killed_mid_run_loses_nothing_and_sends_nothing_twice(
    fake_sms, queue, start_worker
):
    patient = PatientFactory(phone="+61412345678", sms_consent=True)
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            kind="adhoc",
            to="+61412345678",
            body=f"Message {i}",
            patient=patient,
            next_attempt_at=now,
        )
        for i in range(TOTAL)
    )
    ids = list(Message.objects.values_list("pk", flat=True))
    # Each send takes a moment at the provider, so the kill lands mid-run.
    fake_sms.delay = 0.04
    for message_id in ids:
        celery_app.send_task(
            "integrations.tasks.outbox_deliver_task", args=[message_id], queue=queue
        )

    first = start_worker(1)
    wait_for(lambda: len(fake_sms.sent) >= TOTAL // 3, timeout=120, what="a third sent")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    received_at_kill = len(fake_sms.sent)
    at_kill = statuses()
    assert received_at_kill < TOTAL, "the worker finished before it was killed"

    start_worker(2)

    def settled() -> bool:
        # What beat would do every minute: relay rows whose hand-off died with the first
        # worker (its prefetched tasks), and sweep sends stuck past their lease.
        for task in ("outbox_relay_task", "outbox_sweep_task"):
            celery_app.send_task(f"integrations.tasks.{task}", queue=queue)
        time.sleep(0.5)
        return not Message.objects.filter(status__in=["queued", "sending"]).exists()

    wait_for(settled, timeout=180, what="every row to settle")

    counts = statuses()
    refs = fake_sms.refs()
    duplicates = sum(1 for count in refs.values() if count > 1)
    sent_ids = {
        str(pk) for pk in Message.objects.filter(status="sent").values_list("pk", flat=True)
    }
    lost = len(sent_ids - set(refs)) + (TOTAL - sum(counts.values()))
    figures = (
        f"queued={TOTAL} at_kill={at_kill} received_at_kill={received_at_kill} "
        f"sent={counts.get('sent', 0)} "
        f"unknown={counts.get('unknown', 0)} failed={counts.get('failed', 0)} "
        f"provider_received={len(refs)} duplicates={duplicates} lost={lost}"
    )
    print(f"\nkill test: {figures}")

    assert set(counts) <= {"sent", "failed", "unknown"}, figures
    assert sum(counts.values()) == TOTAL
    assert duplicates == 0, figures
    assert lost == 0, figures
    # Every message the provider took is accounted for as sent or unknown, never failed.
    assert set(refs) <= sent_ids | {
        str(pk) for pk in Message.objects.filter(status="unknown").values_list("pk", flat=True)
    }
