from celery import shared_task

from appointments.holds import holds_release_expired


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def slot_holds_release_task() -> int:
    """Delete expired online holds. They block nobody already (every check ignores them);
    this only keeps the table small."""
    return holds_release_expired()
