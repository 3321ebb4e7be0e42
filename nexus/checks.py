"""Start-up checks: settings that would leak patient or account data in production."""

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

_CONSOLE_EMAIL = "django.core.mail.backends.console.EmailBackend"


@checks.register()
def console_email_in_production(app_configs: Any = None, **kwargs: Any) -> list[checks.Error]:
    """With DEBUG off, e-mail must really be sent: the console backend would print
    password-reset and invitation links (working credentials) into the log."""
    if settings.DEBUG or settings.EMAIL_BACKEND != _CONSOLE_EMAIL:
        return []
    return [
        checks.Error(
            "EMAIL_URL is the console (the default) with DEBUG off: invitation and "
            "password-reset links would be written to the log.",
            hint="Set EMAIL_URL to your mail server, e.g. smtp+tls://user:pass@host:587.",
            id="nexus.E001",
        )
    ]


def refuse_unsafe_production() -> None:
    """Called as the WSGI app loads (gunicorn runs no system checks)."""
    errors = console_email_in_production()
    if errors:
        raise ImproperlyConfigured(errors[0].msg)
