"""The Celery app: `celery -A nexus worker` and `celery -A nexus beat`.

Configured from Django settings named CELERY_*; without a broker tasks run in-process right
after commit (the embedded default). Workers log through Django's LOGGING, so their lines
are the same structured JSON as the web's, with the task id where the web has a request id.
"""

import logging.config
import os
from typing import Any

import structlog
from celery import Celery
from celery.signals import (
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    task_revoked,
    task_success,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")

app = Celery("nexus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**kwargs: Any) -> None:
    # Connecting this signal stops Celery configuring logging itself.
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@task_prerun.connect
def _bind_task_id(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    # Bind, never clear: a task run in-process must keep the request id of its request.
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@task_postrun.connect
def _unbind_task_id(**kwargs: Any) -> None:
    structlog.contextvars.unbind_contextvars("task_id", "task")


def _count(task: Any, outcome: str) -> None:
    from nexus.metrics import CELERY_TASKS

    CELERY_TASKS.inc(str(getattr(task, "name", None) or "unknown"), outcome)


# Task outcomes for /metrics: the worker adds to the same Redis counters the web reads.
@task_success.connect
def _task_succeeded(sender: Any = None, **kwargs: Any) -> None:
    _count(sender, "success")


@task_failure.connect
def _task_failed(sender: Any = None, **kwargs: Any) -> None:
    _count(sender, "failure")


@task_retry.connect
def _task_retried(sender: Any = None, **kwargs: Any) -> None:
    _count(sender, "retry")


@task_revoked.connect
def _task_revoked(sender: Any = None, expired: bool = False, **kwargs: Any) -> None:
    # Beat's runs carry `expires`: one that waited past it is dropped, not run.
    _count(sender, "expired" if expired else "revoked")
