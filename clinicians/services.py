"""Clinic details a practice admin keeps: what letters print on their letterhead (name,
address, phone, email, ABN and logo). Audited by the calling view."""

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import filetype
import structlog
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from accounts.models import User
from clinicians.models import Clinic, TimeOff
from documents.validation import UploadRejected

log = structlog.get_logger(__name__)

LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = ("image/png", "image/jpeg")
LOGO_MAX_PIXELS = 4000 * 4000


def clinic_logo_check(upload: UploadedFile) -> str:
    """A PNG or JPEG of at most 512 KB that decodes, judged by its bytes, never its name:
    the sniffed content type."""
    size = upload.size or 0
    if size == 0:
        raise UploadRejected("The logo file is empty.", code="file_empty")
    if size > LOGO_MAX_BYTES:
        raise UploadRejected(
            f"The logo is {size // 1024} KB; the limit is {LOGO_MAX_BYTES // 1024} KB. "
            "Save it smaller (a few hundred pixels wide is plenty for a letterhead).",
            code="file_too_large",
        )
    upload.seek(0)
    kind = filetype.guess(upload.read(8192))
    if kind is None or kind.mime not in LOGO_TYPES:
        raise UploadRejected(
            "A logo must be a PNG or JPEG image; this file's contents are not.",
            code="file_type_not_allowed",
        )
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise UploadRejected(
                    "The logo has too many pixels; a few hundred pixels wide is plenty.",
                    code="file_too_large",
                )
            image.verify()
    except UploadRejected:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise UploadRejected(
            "The logo is damaged and cannot be read.", code="file_damaged"
        ) from exc
    upload.seek(0)
    return kind.mime


@transaction.atomic
def clinic_save(
    *,
    clinic: Clinic,
    changes: Mapping[str, Any],
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
    by: User,
) -> list[str]:
    """Save a clinic's details (new or changed) and its logo: a new one replaces the old,
    whose bytes leave storage once the change is committed. The names of what changed."""
    changed = [name for name, value in changes.items() if getattr(clinic, name) != value]
    for name in changed:
        setattr(clinic, name, changes[name])
    old = clinic.logo.name if clinic.logo else ""
    if clinic.pk is None:
        clinic.save()
    if logo is not None:
        clinic_logo_check(logo)
        clinic.logo.save(f"logo.{logo.name}", logo, save=False)
        changed.append("logo")
    elif remove_logo and old:
        clinic.logo = ""
        changed.append("logo")
    clinic.save()
    if old and "logo" in changed:
        transaction.on_commit(lambda: default_storage.delete(old))
    log.info("clinic.saved", clinic_id=clinic.pk, fields=changed, user_id=by.pk)
    return changed


def clinic_logo_bytes(clinic: Clinic) -> bytes | None:
    """The logo's bytes, or None when there is none or storage cannot give it back (a
    letter then goes without the logo rather than not at all)."""
    if not clinic.logo or not clinic.logo.name:
        return None
    try:
        with default_storage.open(clinic.logo.name, "rb") as stored:
            return bytes(stored.read())
    except Exception:
        log.warning("clinic.logo_unreadable", clinic_id=clinic.pk)
        return None


@transaction.atomic
def time_off_remove(*, leave: TimeOff) -> None:
    """Delete a period of leave; once that commits, the waitlist is offered the times it
    frees (the waitlist builds on clinicians, so it is imported here, not the other way)."""
    from waitlist.services import waitlist_window_freed_later

    clinician_id, clinic_id, start, end = (
        leave.clinician_id,
        leave.clinic_id,
        leave.start,
        leave.end,
    )
    leave.delete()
    waitlist_window_freed_later(
        clinician_id=clinician_id, clinic_id=clinic_id, start=start, end=end
    )
    log.info("time_off.removed", clinician_id=clinician_id)


def working_hours_added(*, clinician_id: int, clinic_ids: Iterable[int]) -> None:
    """Called in the transaction that added or widened weekly hours: once it commits, the
    waitlist is offered the first free time of each free stretch those clinics now have in
    the coming weeks (one offer in flight per waiting patient keeps it to a text each)."""
    from waitlist.services import WINDOW_DAYS, waitlist_window_freed_later

    now = timezone.now()
    for clinic_id in sorted(set(clinic_ids)):
        waitlist_window_freed_later(
            clinician_id=clinician_id,
            clinic_id=clinic_id,
            start=now,
            end=now + timedelta(days=WINDOW_DAYS),
        )
