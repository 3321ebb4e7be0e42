"""Nexus settings: one module, configured only by environment variables.

Defaults are the embedded development setup (SQLite, local files, in-process tasks) with
DEBUG off; `make run` turns DEBUG on. Every variable is listed in `.env.example` and the README.
"""

import hmac
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent

# FileAwareEnv: any variable may instead be given as VAR_FILE=/path (Cloud Run and ECS mount
# secrets as files), so secrets need not sit in the process environment.
env = environ.FileAwareEnv()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    # Only usable with DEBUG on: check --deploy flags an insecure key, and production sets one.
    default="django-insecure-development-key-change-me" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin site, for superusers only (accounts.admin_site).
    "accounts.admin_apps.NexusAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.mfa",
    "nexus",
    "accounts",
    "clinicians",
    "patients",
    "appointments",
    "notes",
    "audit",
    "documents",
    "booking",
    "integrations",
    "billing",
    "waitlist",
    "axes",
    "idempotency",
]

MIDDLEWARE = [
    "nexus.logging.RequestIdMiddleware",
    # A JSON line and the /metrics figures for every request (route, status, duration).
    "nexus.logging.RequestLogMiddleware",
    # /healthz/, /readyz/ and /metrics pass load balancers that send the task's IP as Host.
    "nexus.health.ProbesBeforeHostCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "nexus.middleware.RejectNulBytesMiddleware",
    "nexus.middleware.PermissionsPolicyMiddleware",
    # django-csp's, with the settings' policy built once (nexus/middleware.py).
    "nexus.middleware.CachedPolicyCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "nexus.middleware.NoStoreMiddleware",
    # Outside the request's transaction: a refused change still leaves its audit event.
    "audit.middleware.DeniedAccessAuditMiddleware",
    "nexus.middleware.AuditFailClosedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the signed-in user and their permissions cached (accounts/auth_cache.py).
    "accounts.auth_cache.CachedAuthenticationMiddleware",
    "nexus.middleware.SessionTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.MfaEnrolmentMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "nexus.htmx.HtmxLoginRedirectMiddleware",
    # API writes with an Idempotency-Key: inside the request transaction, after sign-in.
    "idempotency.middleware.IdempotencyMiddleware",
]

ROOT_URLCONF = "nexus.urls"
WSGI_APPLICATION = "nexus.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "nexus.context_processors.sign_in",
            ],
            # Zone-safe `date`/`time` filters for every template (nexus/templatetags/zones.py).
            "builtins": [
                "nexus.templatetags.zones",
                "nexus.templatetags.phones",
                "nexus.templatetags.routes",
            ],
        },
    },
]

# Database: a SQLite file unless DATABASE_URL says otherwise.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent bookings queue up instead of
    # failing with "database is locked" when a read transaction tries to upgrade.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
else:
    # Persistent connections: reconnecting per request cost 3-4x (docs/performance.md).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's, health-checking only a connection that sat idle (nexus/db/postgresql).
        DATABASES["default"]["ENGINE"] = "nexus.db.postgresql"
# Sealing the audit chain (audit_seal) fills in three columns of audit rows, which the app's
# own database role may not touch (audit/dbrole.py, README "Database roles"). Sealing
# connects through this alias, as the schema owner; set it only where sealing runs (the
# beat container, which also works the "audit" queue, and `manage.py audit_verify`). Unset,
# it is DATABASE_URL and sealing shares the app's connection.
_AUDIT_OWNER_URL = env.str("NEXUS_AUDIT_OWNER_DATABASE_URL", default="")
DATABASES["audit_owner"] = {
    **(env.db_url_config(_AUDIT_OWNER_URL) if _AUDIT_OWNER_URL else DATABASES["default"]),
    "TEST": {"MIRROR": "default"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis is optional: it backs the cache and the Celery broker when set.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        # A Redis outage falls back to the database and fails rate limits open (nexus/cache.py).
        "default": {"BACKEND": "nexus.cache.FailOpenRedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions are read on every staff request; cached_db avoids a query per request.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Absolute session lifetime, and sign-out after this long without a request (R09).
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=12 * 60 * 60)
NEXUS_SESSION_IDLE_SECONDS = env.int("NEXUS_SESSION_IDLE_SECONDS", default=15 * 60)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Counts failed password attempts and locks out before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # allauth's backend is Django's ModelBackend plus sign-in by email.
    "allauth.account.auth_backends.AuthenticationBackend",
]
AXES_FAILURE_LIMIT = env.int("NEXUS_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("NEXUS_LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# allauth passes the address as "email", Django's own forms as "username". Without this
# axes would find no username and count every user's failures together by IP.
AXES_USERNAME_CALLABLE = "accounts.adapters.axes_username"
AXES_RESET_ON_SUCCESS = True
# Not verbose: no "AXES: BEGIN" banner on every command, and its log lines name only the
# lockout parameters (no user agent).
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

# Sign-in (django-allauth): email + password or Google, invitation only, MFA by TOTP.
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
MFA_ADAPTER = "accounts.adapters.MfaAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# Staff accounts are created by a practice admin, never signed up for, and invitations
# prove the address; sign-in is keyed on the account (or Google's `sub`), not the email.
ACCOUNT_EMAIL_VERIFICATION = "none"
MFA_ALLOW_UNVERIFIED_EMAIL = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
# Wrong passwords lock out through axes (audited, 429). allauth's own counter allows one
# more, so axes decides for passwords; it also limits MFA codes per user and IPs overall.
ACCOUNT_RATE_LIMITS = {
    "login_failed": (
        f"10/m/ip,{AXES_FAILURE_LIMIT + 1}/{int(AXES_COOLOFF_TIME.total_seconds())}s/key"
    ),
}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APPS": (
            [
                {
                    "client_id": GOOGLE_CLIENT_ID,
                    "secret": env.str("GOOGLE_CLIENT_SECRET", default=""),
                    "key": "",
                }
            ]
            if GOOGLE_CLIENT_ID
            else []
        ),
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"access_type": "online", "prompt": "select_account"},
        "OAUTH_PKCE_ENABLED": True,
        "FETCH_USERINFO": False,
    }
}
# Another OAuth server with Google's paths, for tests and staging (tests/fakes/google_oidc.py).
# allauth reads these when it loads, so they have to be settings, not test overrides.
GOOGLE_OAUTH_BASE_URL = env.str("GOOGLE_OAUTH_BASE_URL", default="").rstrip("/")
if GOOGLE_OAUTH_BASE_URL:
    SOCIALACCOUNT_PROVIDERS["google"].update(
        {
            "AUTHORIZE_URL": f"{GOOGLE_OAUTH_BASE_URL}/o/oauth2/v2/auth",
            "ACCESS_TOKEN_URL": f"{GOOGLE_OAUTH_BASE_URL}/token",
            "IDENTITY_URL": f"{GOOGLE_OAUTH_BASE_URL}/oauth2/v2/userinfo",
            "CERTS_URL": f"{GOOGLE_OAUTH_BASE_URL}/oauth2/v1/certs",
        }
    )
# Google Workspace domains whose accounts may sign in (the ID token's `hd`); empty = any.
NEXUS_GOOGLE_ALLOWED_DOMAINS = env.list("NEXUS_GOOGLE_ALLOWED_DOMAINS", default=[])
# practice_admin must always use a second factor; this makes it everyone's rule.
NEXUS_MFA_REQUIRED_FOR_ALL = env.bool("NEXUS_MFA_REQUIRED_FOR_ALL", default=False)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("NEXUS_MFA_ISSUER", default="Nexus")
NEXUS_INVITATION_DAYS = env.int("NEXUS_INVITATION_DAYS", default=7)
# Invitations expire like password-reset links; Django reads this for both.
PASSWORD_RESET_TIMEOUT = NEXUS_INVITATION_DAYS * 24 * 60 * 60

# Secrets stored in the database (TOTP keys, OAuth tokens) are encrypted with these Fernet
# keys, newest first; `manage.py rotate_encryption_keys` re-encrypts with the first. They
# are deliberately separate from SECRET_KEY (security.md R16).
NEXUS_ENCRYPTION_KEYS = env.list(
    "NEXUS_ENCRYPTION_KEYS",
    # Development only, like the SECRET_KEY default: production must set its own.
    default=["ZGV2ZWxvcG1lbnQtb25seS1rZXktMDEyMzQ1Njc4OTA="] if DEBUG else environ.Env.NOTSET,
)

# Online booking at /book/ (issue 12 items 2-3). A booking whose mobile was not proven by
# an SMS code is capped per clinician per day, and in all per 24 hours, so one visitor
# cannot fill a week with made-up patients. With NEXUS_BOOKING_VERIFY_MOBILE on, a code is
# sent to the mobile and a booking holds its time only once the code is typed back.
NEXUS_BOOKING_UNVERIFIED_PER_CLINICIAN_DAY = env.int(
    "NEXUS_BOOKING_UNVERIFIED_PER_CLINICIAN_DAY", default=3
)
NEXUS_BOOKING_UNVERIFIED_PER_DAY = env.int("NEXUS_BOOKING_UNVERIFIED_PER_DAY", default=30)
NEXUS_BOOKING_VERIFY_MOBILE = env.bool("NEXUS_BOOKING_VERIFY_MOBILE", default=False)
# Online, a time can be chosen only this long ahead: no one books a time starting now.
NEXUS_BOOKING_MIN_NOTICE_MINUTES = env.int("NEXUS_BOOKING_MIN_NOTICE_MINUTES", default=60)
# A time chosen online is held this long while the visitor types their details.
NEXUS_BOOKING_HOLD_MINUTES = env.int("NEXUS_BOOKING_HOLD_MINUTES", default=5)
# Patients may cancel or move a booking by its link only this long before it starts.
NEXUS_BOOKING_CHANGE_NOTICE_HOURS = env.int("NEXUS_BOOKING_CHANGE_NOTICE_HOURS", default=24)
# Rate limits and audit rows key on the client's address. Behind N proxies (load balancer,
# CDN) that each append to X-Forwarded-For, set this to N: the address N hops from the end
# is the client's. 0 (the default) trusts no header and uses the connection's address.
NEXUS_TRUSTED_PROXY_COUNT = env.int("NEXUS_TRUSTED_PROXY_COUNT", default=0)
# The proxies' own networks (CIDRs): X-Forwarded-For counts only on connections from them.
NEXUS_TRUSTED_PROXIES = env.list("NEXUS_TRUSTED_PROXIES", default=[])
ALLAUTH_TRUSTED_PROXY_COUNT = NEXUS_TRUSTED_PROXY_COUNT
# The login lockout keys on the same client address as the rate limits and the audit.
AXES_CLIENT_IP_CALLABLE = "nexus.client.client_ip"
if NEXUS_TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = NEXUS_TRUSTED_PROXY_COUNT
    AXES_IPWARE_PROXY_ORDER = "right-most"

# /metrics answers only to "Authorization: Bearer <this>"; unset, it answers 404.
NEXUS_METRICS_TOKEN = env.str("NEXUS_METRICS_TOKEN", default="")

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Flash messages live in the session (server side), not in a signed but readable cookie:
# some name a patient ("Registered Ada Lovelace").
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="Nexus <nexus@localhost>")

LANGUAGE_CODE = "en-au"
TIME_ZONE = "Australia/Sydney"
USE_I18N = True
USE_TZ = True
NEXUS_DEFAULT_CLINIC_TIMEZONE = "Australia/Sydney"
# Templates must say which zone a time is shown in (nexus/templatetags/zones.py); on, a
# template that forgets raises instead of quietly showing Sydney time. On in development
# and tests, off in production (where the mistake is logged).
NEXUS_STRICT_TEMPLATE_ZONES = env.bool("NEXUS_STRICT_TEMPLATE_ZONES", default=DEBUG)
PHONENUMBER_DEFAULT_REGION = "AU"
PHONENUMBER_DEFAULT_FORMAT = "E164"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "var" / "media")
# Hashed, compressed static files need `collectstatic`; development and tests serve from
# the apps' folders instead.
STATIC_MANIFEST = env.bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
# Patient documents: local files in development, a private S3 bucket in production.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
NEXUS_DOCUMENT_MAX_MB = env.int("NEXUS_DOCUMENT_MAX_MB", default=25)
NEXUS_DOCUMENT_URL_SECONDS = env.int("NEXUS_DOCUMENT_URL_SECONDS", default=300)
NEXUS_DOCUMENT_PURGE_DAYS = env.int("NEXUS_DOCUMENT_PURGE_DAYS", default=30)
DATA_UPLOAD_MAX_NUMBER_FILES = 5
# clamd's socket ("/run/clamav/clamd.ctl", "unix://...", "tcp://host:3310"): every upload
# is scanned before it is stored, and flagged files are quarantined. Empty: no scanning.
NEXUS_CLAMAV_SOCKET = env.str("NEXUS_CLAMAV_SOCKET", default="")
FILE_UPLOAD_PERMISSIONS = 0o600
_server_side_encryption = env.str("AWS_S3_SERVER_SIDE_ENCRYPTION", default="AES256")
_kms_key_id = env.str("AWS_S3_KMS_KEY_ID", default="")
# django-storages' S3 backend as production uses it (integrations.md §7): private, encrypted
# at rest, presigned links that expire, never overwriting an object.
NEXUS_S3_OPTIONS = {
    "bucket_name": AWS_STORAGE_BUCKET_NAME,
    "region_name": env.str("AWS_S3_REGION_NAME", default="ap-southeast-2"),
    "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
    "querystring_auth": True,
    "querystring_expire": NEXUS_DOCUMENT_URL_SECONDS,
    "file_overwrite": False,
    "default_acl": None,
    "object_parameters": {
        "ServerSideEncryption": _server_side_encryption,
        **({"SSEKMSKeyId": _kms_key_id} if _kms_key_id else {}),
        "CacheControl": "private, no-store",
    },
    "signature_version": "s3v4",
    "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="virtual"),
}
STORAGES = {
    "default": (
        {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": NEXUS_S3_OPTIONS}
        if AWS_STORAGE_BUCKET_NAME
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    # Audit chain checkpoints (audit/checkpoints.py): outside the database, ideally a
    # bucket with S3 Object Lock in another account (NEXUS_AUDIT_CHECKPOINT_BUCKET).
    "audit_checkpoints": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **NEXUS_S3_OPTIONS,
                "bucket_name": env.str("NEXUS_AUDIT_CHECKPOINT_BUCKET", default="")
                or AWS_STORAGE_BUCKET_NAME,
                "location": "audit-checkpoints",
            },
        }
        if AWS_STORAGE_BUCKET_NAME or env.str("NEXUS_AUDIT_CHECKPOINT_BUCKET", default="")
        else {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": Path(str(MEDIA_ROOT)) / "audit-checkpoints"},
        }
    ),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# HTTPS: one switch for production behind TLS (redirect, secure cookies, HSTS).
HTTPS = env.bool("DJANGO_HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# Under HTTPS both cookies take the __Host- prefix: the browser then accepts them only if
# Secure, for this exact host and path /, so a sibling subdomain cannot plant or shadow
# them. Pages send the CSRF token in forms and in htmx's X-CSRFToken header (base.html),
# so no script needs to read the cookie: it is HttpOnly.
SESSION_COOKIE_NAME = "__Host-sessionid" if HTTPS else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if HTTPS else "csrftoken"
CSRF_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
# X-Forwarded-Proto is believed only with a trusted proxy in front (which sets it).
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS and NEXUS_TRUSTED_PROXY_COUNT else None
)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$", r"^metrics$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # The admin and Swagger UI set style attributes inline; scripts stay nonce-only.
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# The audit trail's tamper evidence (audit/services.py): new events are sealed into the
# hash chain this often, and each seal writes a checkpoint of the chain head, signed with
# this key, to the log and to the "audit_checkpoints" storage. The key never reaches the
# database; by default it is derived from SECRET_KEY.
NEXUS_AUDIT_SEAL_SECONDS = env.float("NEXUS_AUDIT_SEAL_SECONDS", default=5.0)
NEXUS_AUDIT_CHECKPOINT_KEY = env.str("NEXUS_AUDIT_CHECKPOINT_KEY", default="") or (
    hmac.new(SECRET_KEY.encode(), b"nexus-audit-checkpoint", "sha256").hexdigest()
)

# Celery: tasks run in-process unless a broker is configured (`celery -A nexus worker`).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
# Late ack + reject on a lost worker: a task whose worker died is run again. Every task is
# idempotent (the outbox claims rows), so a second run never sends a second message.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Several deployments (or test runs) can share one Redis by giving each its own queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A countdown longer than the Redis visibility timeout is delivered again and again
# (security.md A8); the outbox's retry delays stay well below it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
# Workers log through LOGGING below (nexus/celery.py), with the task id on every line.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False


def _cron(name: str, default: str) -> crontab | None:
    """A beat schedule from a five-field cron in the environment; "disable" turns it off."""
    value = env.str(name, default=default).strip()
    if value.lower() == "disable":
        return None
    minute, hour, day_of_month, month_of_year, day_of_week = value.split()
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


# name: (task, cron variable, default cron, expires seconds). A run that waited in the
# queue past `expires` is dropped: the next one does the same work.
_BEAT = {
    "sms-reminders": (
        "integrations.tasks.reminders_send_task",
        "NEXUS_CRON_SMS_REMINDERS",
        "*/10 * * * *",
        9 * 60,
    ),
    "outbox-relay": (
        "integrations.tasks.outbox_relay_task",
        "NEXUS_CRON_OUTBOX_RELAY",
        "* * * * *",
        55,
    ),
    "outbox-sweep": (
        "integrations.tasks.outbox_sweep_task",
        "NEXUS_CRON_OUTBOX_SWEEP",
        "*/5 * * * *",
        4 * 60,
    ),
    # Payments and voids made in Xero, read back onto Nexus's invoices.
    "xero-sync": (
        "integrations.xero.tasks.xero_sync_task",
        "NEXUS_CRON_XERO_SYNC",
        "*/15 * * * *",
        14 * 60,
    ),
    # Waitlist offers not answered in time lapse; their times go to the next patients.
    "waitlist-lapse": (
        "waitlist.tasks.waitlist_offers_lapse_task",
        "NEXUS_CRON_WAITLIST_LAPSE",
        "* * * * *",
        55,
    ),
    # Online holds past their few minutes (appointments/holds.py).
    "slot-holds-release": (
        "appointments.tasks.slot_holds_release_task",
        "NEXUS_CRON_SLOT_HOLDS_RELEASE",
        "*/5 * * * *",
        4 * 60,
    ),
    # API Idempotency-Keys older than 24 hours (idempotency/).
    "idempotency-purge": (
        "idempotency.tasks.idempotency_keys_purge_task",
        "NEXUS_CRON_IDEMPOTENCY_PURGE",
        "17 * * * *",
        50 * 60,
    ),
}
# Sealing runs where the owner's database URL is: the beat container's embedded worker is
# the only one that works this queue (deploy/docker-entrypoint.sh).
CELERY_TASK_ROUTES = {"audit.tasks.audit_seal_task": {"queue": "audit"}}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Every few seconds, which a cron cannot say.
    "audit-seal": {
        "task": "audit.tasks.audit_seal_task",
        "schedule": NEXUS_AUDIT_SEAL_SECONDS,
        "options": {"expires": NEXUS_AUDIT_SEAL_SECONDS},
    },
    **{
        name: {"task": task, "schedule": schedule, "options": {"expires": expires}}
        for name, (task, variable, default, expires) in _BEAT.items()
        if (schedule := _cron(variable, default)) is not None
    },
}

# Messages to patients: the outbox (integrations/) and SMS Broadcast.
SMSBROADCAST_API_URL = env.str(
    "SMSBROADCAST_API_URL", default="https://api.smsbroadcast.com.au/api-adv.php"
)
# Without a username a console backend records what would have been sent.
SMSBROADCAST_USERNAME = env.str("SMSBROADCAST_USERNAME", default="")
SMSBROADCAST_PASSWORD = env.str("SMSBROADCAST_PASSWORD", default="")
SMSBROADCAST_FROM = env.str("SMSBROADCAST_FROM", default="")
SMSBROADCAST_TIMEOUT_SECONDS = env.float("SMSBROADCAST_TIMEOUT_SECONDS", default=10.0)
# The last path segment of the inbound/status webhook URLs; unset, the webhooks answer 404.
NEXUS_SMS_WEBHOOK_SECRET = env.str("NEXUS_SMS_WEBHOOK_SECRET", default="")
NEXUS_SMS_REMINDER_HOURS = env.int("NEXUS_SMS_REMINDER_HOURS", default=24)
NEXUS_OUTBOX_MAX_ATTEMPTS = env.int("NEXUS_OUTBOX_MAX_ATTEMPTS", default=6)
NEXUS_OUTBOX_RETRY_SECONDS = env.float("NEXUS_OUTBOX_RETRY_SECONDS", default=30.0)
# A row claimed longer ago than this whose worker never reported is moved to "unknown".
# Longer than the hard task time limit, so a live send is never swept.
NEXUS_OUTBOX_LEASE_SECONDS = env.int("NEXUS_OUTBOX_LEASE_SECONDS", default=300)

# AI drafting of clinical notes (notes/ai.py, integrations/openai/). Off without a key: no
# button shows and nothing is sent. OPENAI_BASE_URL is the SDK's own variable (with /v1);
# empty means OpenAI itself. Tests point it at a local fake.
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
NEXUS_AI_MODEL = env.str("NEXUS_AI_MODEL", default="gpt-4o-mini")
# Seconds per attempt; the SDK retries timeouts, 429s and 5xx NEXUS_AI_MAX_RETRIES times.
NEXUS_AI_TIMEOUT_S = env.float("NEXUS_AI_TIMEOUT_S", default=30.0)
NEXUS_AI_MAX_RETRIES = env.int("NEXUS_AI_MAX_RETRIES", default=2)
# Drafts one user may request per day (practice time zone).
NEXUS_AI_DAILY_LIMIT = env.int("NEXUS_AI_DAILY_LIMIT", default=50)
# US dollars per million tokens (input, output), for the cost shown on each job.
NEXUS_AI_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
}

# Xero (integrations/xero/). Without XERO_CLIENT_ID nobody can connect, and invoices stay in
# Nexus. The URLs default to Xero's; tests point them at a local fake.
XERO_CLIENT_ID = env.str("XERO_CLIENT_ID", default="")
XERO_CLIENT_SECRET = env.str("XERO_CLIENT_SECRET", default="")
XERO_AUTHORIZE_URL = env.str(
    "XERO_AUTHORIZE_URL", default="https://login.xero.com/identity/connect/authorize"
)
XERO_TOKEN_URL = env.str("XERO_TOKEN_URL", default="https://identity.xero.com/connect/token")
# The base under which /Connections and /api.xro/2.0 live.
XERO_API_URL = env.str("XERO_API_URL", default="https://api.xero.com").rstrip("/")
XERO_TIMEOUT_SECONDS = env.float("XERO_TIMEOUT_SECONDS", default=20.0)
# Xero allows 60 calls a minute and 5 at once per organisation; Nexus starts a call at
# most every XERO_CALL_SPACING_SECONDS (1.2 s: 50 a minute, room for the other clients).
XERO_CALL_SPACING_SECONDS = env.float("XERO_CALL_SPACING_SECONDS", default=1.2)
XERO_MAX_CONCURRENT = env.int("XERO_MAX_CONCURRENT", default=4)
# The account code invoice lines post to when they have no Xero item code.
XERO_SALES_ACCOUNT_CODE = env.str("XERO_SALES_ACCOUNT_CODE", default="200")

# Gmail (integrations/gmail/): the clinic's own Google accounts send email. Without
# GOOGLE_OAUTH_CLIENT_ID nobody can connect and a console backend records what would be sent.
# The URLs default to Google's; tests point them at a local fake.
GOOGLE_OAUTH_CLIENT_ID = env.str("GOOGLE_OAUTH_CLIENT_ID", default="")
GOOGLE_OAUTH_CLIENT_SECRET = env.str("GOOGLE_OAUTH_CLIENT_SECRET", default="")
GOOGLE_AUTH_URI = env.str("GOOGLE_AUTH_URI", default="https://accounts.google.com/o/oauth2/v2/auth")
GOOGLE_TOKEN_URI = env.str("GOOGLE_TOKEN_URI", default="https://oauth2.googleapis.com/token")
GOOGLE_REVOKE_URI = env.str("GOOGLE_REVOKE_URI", default="https://oauth2.googleapis.com/revoke")
# The root the SDK's api_endpoint takes; keep the trailing slash.
GMAIL_API_ENDPOINT = env.str("GMAIL_API_ENDPOINT", default="https://gmail.googleapis.com/")
GMAIL_TIMEOUT_SECONDS = env.float("GMAIL_TIMEOUT_SECONDS", default=30.0)
# Gmail takes at most 25 MB of attachments (35 MB raw); a larger set is refused before queueing.
GMAIL_MAX_ATTACHMENT_BYTES = env.int("GMAIL_MAX_ATTACHMENT_BYTES", default=25 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["nexus.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "nexus.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["nexus.api.filters.FilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["nexus.api.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "nexus.api.exceptions.exception_handler",
    "PAGE_SIZE": 25,
    "DEFAULT_THROTTLE_CLASSES": [
        "nexus.api.throttling.AnonThrottle",
        "nexus.api.throttling.UserThrottle",
    ],
    # Past these a client gets 429 with Retry-After. Counters live in the cache (Redis).
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("NEXUS_RATE_ANON", default="60/min"),
        "user": env.str("NEXUS_RATE_USER", default="1200/min"),
        "search": env.str("NEXUS_RATE_SEARCH", default="120/min"),
        "uploads": env.str("NEXUS_RATE_UPLOADS", default="120/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles key anonymous callers on the trusted client address (nexus/client.py),
    # not DRF's NUM_PROXIES, which does not check the peer.
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Nexus API",
    "DESCRIPTION": "Practice management for medical and allied-health clinics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "nexus.api.schema.add_error_responses",
        "idempotency.schema.document_idempotency_key",
    ],
    "ENUM_NAME_OVERRIDES": {
        "AppointmentStatusEnum": "appointments.models.Appointment.Status",
        "NoteStatusEnum": "notes.models.ClinicalNote.Status",
        "NoteKindEnum": "notes.models.ClinicalNote.Kind",
        "AiDraftFormatEnum": "notes.models.AI_DRAFT_FORMATS",
    },
}

LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="console" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "nexus.logging.build_formatter", "output": LOG_FORMAT},
    },
    # Query strings carry search terms (patient names, mobiles): never logged.
    "filters": {
        "client_errors": {"()": "nexus.logging.ClientErrorWithoutTraceback"},
        "no_query_strings": {"()": "nexus.logging.RedactQueryStrings"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["client_errors", "no_query_strings"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives "django" a console handler of its own (DEBUG only);
        # with ours on the root as well, the dev server printed every line twice.
        "django": {"handlers": [], "propagate": True},
        # SQL at DEBUG would print patient data; keep it quiet whatever the root level.
        "django.db.backends": {"level": "INFO"},
        # runserver's request lines, through our handler and without query strings.
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["no_query_strings"],
        },
        "django.request": {"filters": ["no_query_strings"]},
    },
}
