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
from celery.signals import setup_logging, task_postrun, task_prerun

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
