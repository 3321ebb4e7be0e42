import os
import time as time_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.cache import cache
from django.db import connection
from django.test import Client
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from accounts.models import User
from accounts.roles import CLINICIAN, PRACTICE_ADMIN, RECEPTION
from appointments.models import AppointmentType
from clinicians.models import Clinic, Clinician
from nexus import metrics
from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    UserFactory,
    WorkingHoursFactory,
)
from tests.fakes import google_oidc
from tests.fakes.google_oidc import FakeGoogle

# No per-example deadline for any property test: it times each example by the wall clock, which
# a shared two-core CI machine cannot promise (a pure-Python search test failed once at the
# default 200 ms under load). The examples and their assertions are unchanged.
hypothesis_settings.register_profile("nexus", deadline=None)
hypothesis_settings.load_profile("nexus")

SYDNEY = ZoneInfo("Australia/Sydney")
# A Monday well in the future, outside any daylight-saving change.
MONDAY = date(2032, 3, 1)

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="exercises a PostgreSQL-only feature"
)


def pytest_configure(config: pytest.Config) -> None:
    # Parallel workers share one Redis server: give each its own database, so one worker
    # clearing the cache cannot wipe another's throttle counters or cached tokens mid-test.
    from django.conf import settings

    # Tasks run in-process after commit, as in the embedded default, even when REDIS_URL
    # names a broker; tests/integrations/test_celery_worker.py runs a real worker itself.
    from nexus.celery import app as celery_app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = True

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    location = settings.CACHES["default"].get("LOCATION", "")
    if worker.startswith("gw") and str(location).startswith("redis"):
        base, _, db = str(location).rpartition("/")
        settings.CACHES["default"]["LOCATION"] = f"{base}/{int(db or 0) - int(worker[2:])}"


def _flush_past_the_audit_truncate_trigger() -> None:
    # PostgreSQL refuses TRUNCATE of the audit table (audit migration 0004); tests that
    # reset the database between them by flushing do so as its owner, trigger disabled.
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):  # type: ignore[no-untyped-def]
        statements = original(self, style, tables, **kwargs)
        if "audit_auditevent" not in tables or not statements:
            return statements
        trigger = "audit_event_no_truncate"
        return [
            f"ALTER TABLE audit_auditevent DISABLE TRIGGER {trigger}",
            *statements,
            f"ALTER TABLE audit_auditevent ENABLE TRIGGER {trigger}",
        ]

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]


_flush_past_the_audit_truncate_trigger()


@pytest.fixture(autouse=True)
def _audit_checkpoints(settings, tmp_path) -> None:
    # Each test's audit chain starts empty, so its checkpoints must too.
    settings.STORAGES = {
        **settings.STORAGES,
        "audit_checkpoints": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "audit-checkpoints"},
        },
    }


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    """The local fake of Google's OAuth/OIDC endpoints (started by the plugin in
    tests/fakes/google_oidc.py before Django loads), emptied for each test."""
    assert google_oidc.running is not None
    google_oidc.running.reset()
    yield google_oidc.running


# Request metrics are sent when a test scrapes them or by its next request, never by a
# thread at a moment of its own.
metrics.FLUSH_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # Throttle and lockout counters, cached tokens and used TOTP codes live in the cache,
    # keyed by ids the next test reuses; Redis also outlives the test process. The last
    # test's request metrics, still held in the process, go with them.
    metrics.http_metrics_flush()
    cache.clear()


@pytest.fixture(autouse=True)
def _rate_limit_window_fixed(monkeypatch) -> None:
    # The public pages' limiter counts in fixed one-minute windows (nexus.ratelimit). A test
    # whose requests straddle a minute boundary would see its count start again and flake, so
    # every test runs inside one window.
    from types import SimpleNamespace

    from nexus import ratelimit

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))


def totp_code(secret: str, *, margin: float = 10.0) -> str:
    """The authenticator code a user would type now. Nexus accepts only the current 30 s
    window (allauth's MFA_TOTP_TOLERANCE 0), so a code read in a window's last seconds can
    expire before a loaded machine submits it: wait for a fresh window first."""
    left = 30 - time_module.time() % 30
    if left < margin:
        time_module.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int(time_module.time()) // 30))


def sydney(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SYDNEY)


@pytest.fixture
def now_is(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Stand at a given moment for the appointment rules that depend on the clinic's day
    (arrival only on the day, no-show only after the start, undo only on the day)."""

    def stand_at(moment: datetime) -> None:
        monkeypatch.setattr("appointments.services._now", lambda: moment)

    return stand_at


@pytest.fixture
def admin_user(db) -> User:
    return UserFactory(role=PRACTICE_ADMIN, email="admin@nexus.test")


@pytest.fixture
def clinician_user(db) -> User:
    return UserFactory(role=CLINICIAN, email="clinician@nexus.test")


@pytest.fixture
def reception_user(db) -> User:
    return UserFactory(role=RECEPTION, email="reception@nexus.test")


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return _client(admin_user)


@pytest.fixture
def clinician_api(clinician_user) -> APIClient:
    return _client(clinician_user)


@pytest.fixture
def reception_api(reception_user) -> APIClient:
    return _client(reception_user)


def signed_in(who: User | str, **client_options: Any) -> Client:
    """A browser on the staff pages, signed in as this user (or a new user with this role)."""
    client = Client(**client_options)
    client.force_login(UserFactory(role=who) if isinstance(who, str) else who)
    return client


@pytest.fixture
def desk(db) -> Client:
    """A receptionist signed in to the staff pages."""
    return signed_in(RECEPTION)


@pytest.fixture
def admin_browser(db) -> Client:
    """A practice admin signed in to the staff pages."""
    return signed_in(PRACTICE_ADMIN)


@dataclass
class Practice:
    clinic: Clinic
    clinician: Clinician
    consult: AppointmentType


@pytest.fixture
def practice(db) -> Practice:
    """A Sydney clinic with one clinician working 09:00-17:00 every weekday."""
    clinic = ClinicFactory(name="Parramatta", timezone="Australia/Sydney")
    clinician = ClinicianFactory(clinics=[clinic])
    for weekday in range(5):
        WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=weekday)
    consult = AppointmentTypeFactory(name="Standard consultation", duration_minutes=30)
    return Practice(clinic=clinic, clinician=clinician, consult=consult)


@pytest.fixture
def patient(db):
    return PatientFactory(given_name="Ada", family_name="Lovelace")


@pytest.fixture
def local_media(settings, tmp_path):
    """Documents and uploads go to a fresh folder on local disk, as in development."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return settings.MEDIA_ROOT
