"""One rule, one place: the identifiers and dates a patient record holds.

Every path that writes a patient (staff form, API, booking page, the FileMaker import)
reaches these through the model fields in patients/fields.py, so a rule cannot differ
between them.
"""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

# Services Australia's check-digit weights for the first eight digits of a Medicare number.
_MEDICARE_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9)

# The earliest date of birth accepted anywhere: older dates are typing slips (19 for 1990s).
EARLIEST_BIRTH = date(1900, 1, 1)


def medicare_number_is_valid(number: str) -> bool:
    """A 10-digit Medicare card number: first digit 2-6, ninth digit a weighted checksum."""
    if len(number) != 10 or not number.isdigit() or number[0] not in "23456":
        return False
    checksum = sum(int(d) * w for d, w in zip(number[:8], _MEDICARE_WEIGHTS, strict=True)) % 10
    return checksum == int(number[8])


def validate_medicare_number(value: str) -> None:
    if not medicare_number_is_valid(value):
        raise ValidationError(
            "Enter the 10-digit Medicare card number; this one fails its check digit.",
            code="invalid_medicare_number",
        )


def validate_ndis_number(value: str) -> None:
    if not (len(value) == 9 and value.isdigit() and value.startswith("43")):
        raise ValidationError(
            "An NDIS number has 9 digits and starts with 43.", code="invalid_ndis_number"
        )


def normalise_digits(value: str) -> str:
    """Medicare and NDIS numbers are often typed with spaces or dashes."""
    return "".join(ch for ch in value if not ch.isspace() and ch != "-")


# A DVA file number (AIHW METeOR value domain "AAXXNNNN[A]", the format on the card and in
# DVA claims):
#   1. state code: N (NSW and ACT), V, Q, S (SA and NT), W or T;
#   2. a war code of one to three letters, or a blank for veterans of the First World War;
#   3. digits: with the war code, seven characters in all (X + 6, SS + 5, BUR + 4);
#      Services Australia's claiming rules allow fewer digits on old files (NX5, SCGW1234);
#   4. for a dependant, a segment letter (A, B, C... in the order cards were issued);
#      veterans have none.
# So "NX123456", "QSS12345A", "N 123456" and "VBUR1234" are valid; "ZZZZ" is not.
_DVA_FILE_NUMBER = re.compile(
    r"[NVQSWT](?: \d{1,6}|[A-Z]\d{1,6}|[A-Z]{2}\d{1,5}|[A-Z]{3}\d{1,4})[A-Z]?"
)


def normalise_dva_number(value: str) -> str:
    """Capitals, no dashes or stray spaces; a state letter followed straight by digits has
    no war code, which the card writes as a blank ("N123456" is "N 123456")."""
    compact = "".join(ch for ch in value if not ch.isspace() and ch != "-").upper()
    if len(compact) > 1 and compact[1].isdigit():
        return f"{compact[0]} {compact[1:]}"
    return compact


def validate_dva_number(value: str) -> None:
    if not _DVA_FILE_NUMBER.fullmatch(value):
        raise ValidationError(
            "Enter the DVA file number as on the card: a state letter (N, V, Q, S, W or T), "
            "the war code and digits, for example NX123456 or QSS12345A.",
            code="invalid_dva_number",
        )


def validate_date_of_birth(value: date) -> None:
    """Not in the future (the clinic's calendar day) and not before 1900."""
    if value > timezone.localdate() or value < EARLIEST_BIRTH:
        raise ValidationError(
            "Check the date of birth: it cannot be in the future or before 1900.",
            code="invalid_date_of_birth",
        )


def validate_postcode(value: str) -> None:
    if not (len(value) == 4 and value.isdigit()):
        raise ValidationError("An Australian postcode has 4 digits.", code="invalid_postcode")
