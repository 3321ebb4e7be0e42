"""Encryption of secrets kept in the database (TOTP keys, OAuth refresh tokens).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`, with keys from
NEXUS_ENCRYPTION_KEYS, newest first: new values use the first key and any listed key
decrypts. Rotating is "put a new key first, run `manage.py rotate_encryption_keys`, then
drop the old key" (README). Keys are never derived from SECRET_KEY (security.md R16).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Marks a stored value as ciphertext, and which scheme made it.
PREFIX = "fernet:"


@cache
def _keys() -> MultiFernet:
    keys = settings.NEXUS_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("NEXUS_ENCRYPTION_KEYS needs at least one key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "Each NEXUS_ENCRYPTION_KEYS entry must be a Fernet key: 32 url-safe "
            'base64-encoded bytes, e.g. from `python -c "from cryptography.fernet import '
            'Fernet; print(Fernet.generate_key().decode())"`.'
        ) from exc


def reset_keys() -> None:
    """Forget the cached keys (after the setting changes: rotation, tests)."""
    _keys.cache_clear()


def encrypt(plaintext: str) -> str:
    return PREFIX + _keys().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("This value is not encrypted by Nexus.")
    try:
        return _keys().decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken as exc:
        raise ValueError("No configured key decrypts this value.") from exc


def reencrypt(stored: str) -> str:
    """The same secret encrypted with the current first key."""
    return PREFIX + _keys().rotate(stored.removeprefix(PREFIX).encode()).decode()
