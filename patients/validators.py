from django.core.exceptions import ValidationError

# Services Australia's check-digit weights for the first eight digits of a Medicare number.
_MEDICARE_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9)


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


def validate_postcode(value: str) -> None:
    if not (len(value) == 4 and value.isdigit()):
        raise ValidationError("An Australian postcode has 4 digits.", code="invalid_postcode")
