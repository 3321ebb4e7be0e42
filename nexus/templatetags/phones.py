"""Template builtin `phone`: numbers as Australians write them.

Stored in E.164 (+61412345678) for SMS and matching; shown the way the front desk reads them
over the phone: "0412 345 678" for mobiles, "02 9876 5432" for landlines. A number from
elsewhere keeps its international form ("+44 20 7946 0958"), so it is obviously foreign.
"""

import re
from typing import Any

import phonenumbers
from django import template
from phonenumber_field.phonenumber import PhoneNumber

register = template.Library()

_AU_E164 = re.compile(r"\+61([2-9]\d{8})")


def _stored_text(value: Any) -> str:
    # str() of a PhoneNumber validates and formats it through the library, tens of
    # microseconds a number (a third of a search page's CPU). One loaded from the database
    # in the Australian E.164 form (nexus/fields.py) already holds that text as raw_input,
    # and str() gives exactly it whether or not the library deems the number valid.
    if isinstance(value, PhoneNumber):
        raw = value.raw_input or ""
        if _AU_E164.fullmatch(raw) and raw == f"+61{value.national_number}":
            return raw
    return str(value or "")


def phone_national(value: Any) -> str:
    text = _stored_text(value)
    if not text:
        return ""
    if match := _AU_E164.fullmatch(text):
        digits = "0" + match.group(1)
        if digits[1] in "45":  # mobiles (04xx) and the rare 05xx: 4-3-3
            return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
        return f"{digits[:2]} {digits[2:6]} {digits[6:]}"  # landlines: (0x) xxxx xxxx
    try:
        number = phonenumbers.parse(text, "AU")
    except phonenumbers.NumberParseException:
        return text
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 61
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


@register.filter(is_safe=False)
def phone(value: Any) -> str:
    return phone_national(value)
