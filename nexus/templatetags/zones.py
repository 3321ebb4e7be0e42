"""Template builtins (settings.TEMPLATES "builtins"): the `date` and `time` filters, made
zone-safe, and `phone`.

Django's own `date`/`time` filters silently convert an aware datetime to the active zone
(Sydney). For appointments that is wrong whenever the clinic is elsewhere, and it is the
easiest mistake for a template author to make. These replacements format exactly like
Django's, but an aware datetime must say which zone it is shown in: `appointment.local_start`
(the clinic's zone, see nexus/timezones.py), `|localtime` (the practice's zone, for things
like audit times; registered here, no `{% load tz %}` needed) or `|timezone:"Australia/Perth"`.
With
NEXUS_STRICT_TEMPLATE_ZONES on (tests, development) anything else raises, so a page that
forgets fails its tests; in production it falls back to Django's behaviour and logs the
template's mistake.
"""

import logging
from datetime import datetime
from typing import Any

from django import template
from django.conf import settings
from django.template import defaultfilters
from django.templatetags import tz
from django.utils import timezone

register = template.Library()
logger = logging.getLogger(__name__)


class UnzonedDatetimeError(ValueError):
    pass


def _checked(value: Any) -> Any:
    if (
        isinstance(value, datetime)
        and timezone.is_aware(value)
        and getattr(value, "convert_to_local_time", True)
    ):
        if settings.NEXUS_STRICT_TEMPLATE_ZONES:
            raise UnzonedDatetimeError(
                "A template formats an aware datetime without choosing its zone: use "
                "appointment.local_start/local_end or slot.local_start (the clinic's zone), "
                "or |localtime (the practice's zone)."
            )
        logger.warning("template formats a datetime without choosing its zone")
        return timezone.localtime(value)
    return value


@register.filter(is_safe=False)
def date(value: Any, arg: str | None = None) -> str:
    return defaultfilters.date(_checked(value), arg)


@register.filter(is_safe=False)
def time(value: Any, arg: str | None = None) -> str:
    return defaultfilters.time(_checked(value), arg)


# The practice's zone, on purpose (audit times, note times): available without {% load tz %}.
register.filter("localtime", tz.localtime)
