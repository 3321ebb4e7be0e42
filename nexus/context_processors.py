from django.conf import settings
from django.http import HttpRequest


def sign_in(request: HttpRequest) -> dict[str, bool]:
    """Whether the sign-in pages offer Google (only when a client id is configured)."""
    return {"GOOGLE_SIGN_IN": bool(settings.GOOGLE_CLIENT_ID)}
