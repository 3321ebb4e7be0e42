import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")

app = Celery("nexus")
# Settings named CELERY_* configure Celery; without a broker they run tasks in-process.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
