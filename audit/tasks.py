from celery import shared_task

from audit.services import audit_seal


@shared_task(ignore_result=True)
def audit_seal_task() -> int:
    """Scheduled by beat; sealing is idempotent, so overlapping or repeated runs are safe."""
    return audit_seal()
