"""Celery the way Django users expect: beat from env crons with expires, logs with the task
id, secrets from *_FILE, a sender id checked at start-up."""

import logging

import environ
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from integrations.smsbroadcast.settings import check_sender
from integrations.tasks import reminders_send_task
from nexus.celery import app


def test_every_beat_entry_is_a_registered_task_with_expires():
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE

    assert {"audit-seal", "sms-reminders", "outbox-relay", "outbox-sweep"} <= set(schedule)
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, name
        assert entry["options"]["expires"] > 0, name


def test_crons_come_from_the_environment(monkeypatch):
    from nexus import settings as nexus_settings

    monkeypatch.setenv("NEXUS_CRON_SMS_REMINDERS", "5 7 * * 1-5")
    cron = nexus_settings._cron("NEXUS_CRON_SMS_REMINDERS", "*/10 * * * *")
    assert cron is not None
    assert cron.minute == {5}
    assert cron.hour == {7}
    assert cron.day_of_week == {1, 2, 3, 4, 5}

    monkeypatch.setenv("NEXUS_CRON_SMS_REMINDERS", "disable")
    assert nexus_settings._cron("NEXUS_CRON_SMS_REMINDERS", "*/10 * * * *") is None


def test_workers_keep_django_logging_and_time_limits():
    assert app.conf.worker_hijack_root_logger is False
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    # A claimed row's lease outlives any task that could still be sending it.
    assert app.conf.task_time_limit < settings.NEXUS_OUTBOX_LEASE_SECONDS


@pytest.mark.django_db
def test_task_log_lines_carry_the_task_id(caplog):
    caplog.set_level(logging.INFO)

    reminders_send_task.apply(task_id="task-1234")

    traced = [r.msg for r in caplog.records if isinstance(r.msg, dict) and "task_id" in r.msg]
    assert traced
    assert all(line["task_id"] == "task-1234" for line in traced)


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    secret = tmp_path / "webhook-secret"
    secret.write_text("from-a-file")
    monkeypatch.setenv("NEXUS_SMS_WEBHOOK_SECRET_FILE", str(secret))
    monkeypatch.delenv("NEXUS_SMS_WEBHOOK_SECRET", raising=False)

    from nexus import settings as nexus_settings

    assert isinstance(nexus_settings.env, environ.FileAwareEnv)
    assert nexus_settings.env.str("NEXUS_SMS_WEBHOOK_SECRET") == "from-a-file"


@pytest.mark.parametrize("sender", ["MyClinicPodiatry", "My Clinic", "Clinic!"])
def test_a_sender_id_smsbroadcast_would_refuse_stops_start_up(settings, sender):
    settings.SMSBROADCAST_FROM = sender
    with pytest.raises(ImproperlyConfigured):
        check_sender()


def test_good_sender_ids_pass(settings):
    for sender in ("", "MyClinic", "61412345678"):
        settings.SMSBROADCAST_FROM = sender
        check_sender()
