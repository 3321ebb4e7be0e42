from datetime import time

import pytest

from tests.conftest import Practice
from tests.factories import PatientFactory
from waitlist.models import WaitlistEntry
from waitlist.services import waitlist_entry_add

SECRET = "s3cret-webhook-token-0123456789abcdef"
INBOUND = f"/webhooks/sms/inbound/{SECRET}/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.NEXUS_SMS_WEBHOOK_SECRET = SECRET


def waiting(practice: Practice, **fields) -> WaitlistEntry:
    """A patient with SMS consent and a mobile, waiting for the practice's clinician on any
    weekday 08:00-18:00 unless told otherwise."""
    patient = fields.pop("patient", None) or PatientFactory(sms_consent=True)
    defaults = {
        "clinician": practice.clinician,
        "clinics": [practice.clinic],
        "appointment_type": practice.consult,
        "days": [0, 1, 2, 3, 4],
        "earliest": time(8),
        "latest": time(18),
    }
    return waitlist_entry_add(patient=patient, **(defaults | fields))
