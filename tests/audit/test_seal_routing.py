"""Sealing runs only where the owner's database login is (README "Database roles"): the
seal task goes to the "audit" queue, which only the beat container's embedded worker works."""

from pathlib import Path

from nexus.celery import app

ENTRYPOINT = Path(__file__).resolve().parents[2] / "deploy" / "docker-entrypoint.sh"


def test_the_seal_task_goes_to_the_audit_queue_and_others_do_not():
    router = app.amqp.router

    assert router.route({}, "audit.tasks.audit_seal_task")["queue"].name == "audit"
    assert router.route({}, "integrations.tasks.outbox_relay_task")["queue"].name == "celery"


def test_only_the_beat_role_works_the_audit_queue():
    script = ENTRYPOINT.read_text()
    beat = script[script.index("  beat)") : script.index("  migrate)")]
    worker = script[script.index("  worker)") : script.index("  beat)")]

    assert "--beat --queues audit" in beat
    assert "--queues" not in worker  # the default queue only
