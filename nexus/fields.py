"""Model fields shared by several apps."""

import re
from typing import Any

import phonenumbers
from phonenumber_field import modelfields
from phonenumber_field.phonenumber import PhoneNumber

# A stored Australian number in E.164: +61, then a 9-digit national number that starts
# with 2-9 (landlines, mobiles). 13/1300/1800 numbers and carrier-prefixed forms take the
# library's path, which knows their rules.
# ASCII digits only: other digits (\d matches any script's) take the library's path.
_AU_E164 = re.compile(r"\+61[2-9]\d{8}", re.ASCII)


def is_au_e164(text: str) -> bool:
    """Whether stored text is an Australian number in E.164, which reads back as itself."""
    return _AU_E164.fullmatch(text) is not None


class PhoneNumberField(modelfields.PhoneNumberField):
    """django-phonenumber-field's field, loading stored Australian numbers without a parse.

    Numbers are stored in E.164 after validation, and `phonenumbers.parse` costs tens of
    microseconds a value: two or more per patient row on every list. For the common
    Australian form the result is built directly; it is the same object the library's
    parse gives (tests/test_phone_field.py checks this over generated numbers).
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if isinstance(value, str) and is_au_e164(value):
            return PhoneNumber(
                country_code=61,
                national_number=int(value[3:]),
                raw_input=value,
                country_code_source=phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN,
            )
        return super().from_db_value(value, expression, connection)
