"""Registering and updating patients."""

from typing import Any

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from nexus.errors import ValidationFailed
from patients.models import Patient

log = structlog.get_logger(__name__)


def _validated(patient: Patient, *, only: set[str] | None = None) -> None:
    """The model fields' rules (patients/validators.py), as the services' error.
    `only` checks just the fields being changed, so a record carrying an old value that
    today's rules refuse can still take an unrelated update (an SMS opt-out)."""
    exclude = None
    if only is not None:
        exclude = [f.name for f in Patient._meta.concrete_fields if f.name not in only]
    try:
        patient.full_clean(exclude=exclude)
    except ValidationError as error:
        raise ValidationFailed.from_django(error) from error


@transaction.atomic
def patient_register(*, created_by: User | None, **fields: Any) -> Patient:
    patient = Patient(created_by=created_by, **fields)
    _validated(patient)
    patient.save()
    log.info("patient.registered", patient_id=patient.pk)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, **fields: Any) -> Patient:
    for name, value in fields.items():
        setattr(patient, name, value)
    _validated(patient, only=set(fields))
    patient.save()
    log.info("patient.updated", patient_id=patient.pk, fields=sorted(fields))
    return patient
