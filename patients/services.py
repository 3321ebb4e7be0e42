"""Registering and updating patients."""

from typing import Any

import structlog
from django.db import transaction

from accounts.models import User
from patients.models import Patient

log = structlog.get_logger(__name__)


@transaction.atomic
def patient_register(*, created_by: User | None, **fields: Any) -> Patient:
    patient = Patient(created_by=created_by, **fields)
    patient.full_clean()
    patient.save()
    log.info("patient.registered", patient_id=patient.pk)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, **fields: Any) -> Patient:
    for name, value in fields.items():
        setattr(patient, name, value)
    patient.full_clean()
    patient.save()
    log.info("patient.updated", patient_id=patient.pk, fields=sorted(fields))
    return patient
