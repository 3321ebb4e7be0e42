"""Celery tasks for notes: thin, take ids, safe to run twice (a job is claimed first)."""

from celery import shared_task
from django.conf import settings

from notes.ai import ai_draft_run

# Each attempt may take NEXUS_AI_TIMEOUT_S and the SDK retries NEXUS_AI_MAX_RETRIES times,
# waiting up to 8 s between attempts (or what retry-after asks, at most 60 s here).
_AI_BUDGET = settings.NEXUS_AI_TIMEOUT_S * (settings.NEXUS_AI_MAX_RETRIES + 1) + 30


@shared_task(
    ignore_result=True,
    soft_time_limit=min(_AI_BUDGET, settings.CELERY_TASK_SOFT_TIME_LIMIT),
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def ai_draft_task(job_id: int) -> str:
    """Write one AI draft into its note. The model's answer never signs anything."""
    return ai_draft_run(job_id=job_id)
