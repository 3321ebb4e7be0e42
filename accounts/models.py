import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.cache import cache
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.access_audit import access_flags, flags_saved
from nexus.errors import Conflict


class TokenOwnerImmutable(Conflict):
    code = "token_owner_immutable"
    default_detail = "An API token belongs to the user it was issued to; issue a new one instead."


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A member of staff. Signs in with an email address; roles are Django groups."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the admin site.")
    date_joined = models.DateTimeField(default=timezone.now)
    # Raised to end every session of this user at once (deactivation, a role change, a
    # second factor reset): it is part of the session's auth hash, see below.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    # The access flags as loaded from the database (None for a new user); see save().
    _access_loaded: dict[str, Any] | None = None

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django signs every session with a hash of the password, so a password change
        # ends the others; the epoch lets a role change or MFA reset do the same. At 0
        # the hash is Django's own, so sessions made before this field survived its arrival.
        if not self.session_epoch:
            return super()._get_session_auth_hash(secret=secret)  # type: ignore[misc]
        return salted_hmac(
            "accounts.User.session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every password change is audited here, the one place all of them pass through:
        # allauth's change/reset/set pages, the invitation page, the admin's password form
        # and `manage.py changepassword` (set_password() leaves the new password in
        # `_password` until the save). The hashes never reach the record.
        password_changed = getattr(self, "_password", None) is not None and not self._state.adding
        # Access flags are audited here too, for the same reason (accounts/access_audit.py).
        adding, before = self._state.adding, self._access_loaded
        super().save(*args, **kwargs)
        # Whatever changed (active, password, flags), the next request must see it.
        from accounts.auth_cache import forget

        forget(self.pk)
        if password_changed:
            from accounts.services import audit_password_change

            audit_password_change(user=self)
        if adding or before is not None:
            flags_saved(self, before=None if adding else before)
        self._access_loaded = access_flags(self)

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> "User":
        user = super().from_db(*args, **kwargs)
        user._access_loaded = access_flags(user)
        return user

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


def hash_token(raw: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for API consumers. Only its SHA-256 is stored; the key is shown once."""

    PREFIX = "nx_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_hint = models.CharField(max_length=12, editable=False, help_text="First characters only.")
    scopes = models.JSONField(
        default=list,
        help_text='Resource scopes such as "patients:read", "appointments:write", or "*:read".',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # (owner, key) as loaded from the database; see save().
    _issued: tuple[Any, Any] | None = None

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint}…)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Re-pointing a token at someone else would let its holder act as them, under their
        # name in the audit trail. Owner and key are fixed at issue; a database trigger
        # (migration 0002) refuses it too, for writes that bypass this method.
        if self._issued is not None and (self.user_id, self.key_hash) != self._issued:
            raise TokenOwnerImmutable
        super().save(*args, **kwargs)
        self._issued = (self.user_id, self.key_hash)

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> "ApiToken":
        token = super().from_db(*args, **kwargs)
        token._issued = (token.__dict__.get("user_id"), token.__dict__.get("key_hash"))
        return token

    @classmethod
    def issue(cls, *, user: User, name: str, scopes: list[str]) -> tuple["ApiToken", str]:
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, scopes=scopes, key_hash=hash_token(raw), key_hint=raw[:10]
        )
        return token, raw

    @staticmethod
    def cache_key(key_hash: str) -> str:
        """Where BearerTokenAuthentication caches a token with its user and permissions."""
        return f"apitoken:{key_hash}"

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
        cache.delete(self.cache_key(self.key_hash))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.user.is_active

    def allows(self, resource: str, action: str) -> bool:
        # Write implies read: a token that may book appointments may also list them.
        actions = (action, "write") if action == "read" else (action,)
        return any(f"{r}:{a}" in self.scopes for r in (resource, "*") for a in actions)
