"""Template builtin `phone`: numbers as Australians write them.

Stored in E.164 (+61412345678) for SMS and matching; shown the way the front desk reads them
over the phone: "0412 345 678" for mobiles, "02 9876 5432" for landlines. A number from
elsewhere keeps its international form ("+44 20 7946 0958"), so it is obviously foreign.
"""

import re
from typing import Any

import phonenumbers
from django import template

register = template.Library()

_AU_E164 = re.compile(r"\+61([2-9]\d{8})")


def phone_national(value: Any) -> str:
    text = str(value or "")
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
