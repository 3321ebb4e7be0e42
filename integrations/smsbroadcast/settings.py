"""SMS Broadcast settings, checked when Django starts."""

import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# integrations.md §1.2: letters or a number, at most 11 characters, no punctuation or spaces.
_SENDER = re.compile(r"^[A-Za-z0-9]{1,11}$")


def check_sender() -> None:
    sender = settings.SMSBROADCAST_FROM
    if sender and not _SENDER.match(sender):
        raise ImproperlyConfigured(
            "SMSBROADCAST_FROM must be at most 11 letters or digits, without spaces or "
            f"punctuation (it is {len(sender)} characters)."
        )
