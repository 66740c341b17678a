"""Settings for the admin panel and its SCIM service.

One module for every environment: each deploy difference is an environment variable (documented in
`.env.example` and the README). With nothing set, the project runs on embedded defaults (SQLite, a
filesystem Celery broker under `var/`, email printed to the console). Production fails at start-up
when a secret is missing instead of running with an insecure default.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from nordpass_admin.client_address import parse_trusted_proxies

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# `.env` is read when present (`make run` writes one for local use); real environment variables win.
# ENV_FILE points elsewhere, or at /dev/null to read none.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random value "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for local development only."
        )
    SECRET_KEY = "insecure-development-only-key-never-use-in-production"  # noqa: S105

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "anymail",
    "accounts",
    "integrations",
]

MIDDLEWARE = [
    # First, so every log line of a request (redirects included) carries its id.
    "nordpass_admin.request_id.RequestIdMiddleware",
    # Before anything reads REMOTE_ADDR: the client's address behind a trusted load balancer.
    "nordpass_admin.client_address.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "nordpass_admin.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.CurrentOrganizationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nordpass_admin.urls"
WSGI_APPLICATION = "nordpass_admin.wsgi.application"

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
                "accounts.context_processors.organization",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# SQLite by default so a new user needs nothing installed; PostgreSQL in production and in CI.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the Celery worker read while the other writes; IMMEDIATE
    # transactions take the write lock up front instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # The test database is a file, not memory, so end-to-end tests can share it with a real
    # Celery worker process.
    # One file per test run, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Health-checks only connections that sat idle: not one extra round trip per request.
        DATABASES["default"]["ENGINE"] = "nordpass_admin.db.postgresql"
# Seconds a pooled database connection may sit idle before it is checked again before use.
DB_HEALTH_CHECK_IDLE_SECONDS = env.float("DB_HEALTH_CHECK_IDLE_SECONDS", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 3)
# Sign-in throttling: failed attempts per address and account, and per address, in a window.
SIGNIN_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=5)
SIGNIN_FAILURE_LIMIT_PER_ADDRESS = env.int("SIGNIN_FAILURE_LIMIT_PER_ADDRESS", default=30)
SIGNIN_FAILURE_WINDOW = env.int("SIGNIN_FAILURE_WINDOW", default=15 * 60)
# Sessions end SESSION_COOKIE_AGE seconds after sign-in however active they are, and after
# SESSION_IDLE_TIMEOUT_SECONDS without a request (0: no idle limit); accounts.middleware enforces
# both. The defaults are NIST SP 800-63B's for two-factor (AAL2) sessions: 12 hours, 30 min idle.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_IDLE_TIMEOUT_SECONDS = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=30 * 60)

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (served by whitenoise, so gunicorn alone serves the panel) ----------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# After `collectstatic` (the Docker image runs it) files get hashed names and long cache headers;
# before it (development, tests) whitenoise serves straight from the source folders.
_COLLECTED = env.bool("STATIC_MANIFEST", default=(STATIC_ROOT / "staticfiles.json").exists())
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _COLLECTED

# --- Email ----------------------------------------------------------------------------------------
# Any django-anymail backend (for example anymail.backends.postmark.EmailBackend), SMTP, or the
# console. Provider settings come from ANYMAIL_* variables: ANYMAIL_POSTMARK_SERVER_TOKEN becomes
# ANYMAIL["POSTMARK_SERVER_TOKEN"].
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="NordPass Admin <no-reply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_") and value
}

# --- Celery ---------------------------------------------------------------------------------------
# The embedded default is Kombu's filesystem transport: no server to install. Production: Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "celery")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Broadcasts (worker control, ping) would otherwise land in ./control of the current folder.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # An unreachable broker host fails a publish in about a second instead of hanging a web
    # thread; the invitation stays pending in the database and the sweep sends it later.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 1}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE = {
    "expire-scim-token-overlaps": {
        "task": "integrations.expire_scim_token_overlaps",
        "schedule": 300.0,
    },
    "prune-scim-request-log": {
        "task": "integrations.prune_scim_request_log",
        "schedule": 3600.0,
    },
    "invitation-sweep": {
        "task": "accounts.invitation_sweep",
        "schedule": 60.0,
    },
    "deprovision-hold-sweep": {
        "task": "integrations.deprovision_hold_sweep",
        "schedule": 60.0,
    },
    "email-domain-recheck-sweep": {
        "task": "integrations.email_domain_recheck_sweep",
        "schedule": 600.0,
    },
    "sso-secret-expiry-sweep": {
        "task": "integrations.sso_secret_expiry_sweep",
        "schedule": 3600.0,
    },
}
# PERIODIC_TASK_SECONDS="invitation-sweep=5,deprovision-hold-sweep=5" changes periods by the
# schedule names above. However many beats send a task, it runs at most once per period
# (nordpass_admin/periodic.py): two runs never start closer than 80% of it apart.
for _entry in env.list("PERIODIC_TASK_SECONDS", default=[]):
    _name, _, _value = (part.strip() for part in _entry.partition("="))
    if _name not in CELERY_BEAT_SCHEDULE:
        raise ImproperlyConfigured(
            f"PERIODIC_TASK_SECONDS: no periodic task is named {_name!r}; the names are "
            f"{', '.join(sorted(CELERY_BEAT_SCHEDULE))}."
        )
    try:
        _seconds = float(_value)
    except ValueError:
        _seconds = 0.0
    if not 0 < _seconds < float("inf"):
        raise ImproperlyConfigured(
            f"PERIODIC_TASK_SECONDS: {_name} must be a positive number of seconds "
            f"({_name}=60), not {_value!r}."
        )
    CELERY_BEAT_SCHEDULE[_name]["schedule"] = _seconds
# How long /readyz waits for the broker before calling it unreachable.
BROKER_HEALTH_TIMEOUT = env.float("BROKER_HEALTH_TIMEOUT", default=2.0)


# --- Cache (rate limits, throttles, SCIM credential generations) ---------------------------------
def _cache_url_beside_broker(broker_url: str) -> str:
    """The Redis server of a redis:// or rediss:// broker, in the database after the broker's
    (before it when the broker has 15, the last of Redis's default 16), never the broker's own:
    Django's cache.clear() empties a whole database (FLUSHDB), queued tasks included, and the raw
    keys of nordpass_admin/redis_cache.py then stay clear of Kombu's."""
    # Kombu's failover form lists several URLs separated by ";": the cache follows the first.
    parts = urlsplit(broker_url.split(";", 1)[0].strip())
    if parts.scheme not in ("redis", "rediss"):
        return ""
    number = parts.path.strip("/") or "0"
    if not number.isdigit():
        raise ImproperlyConfigured(
            f"CELERY_BROKER_URL: {number!r} is not a Redis database number (redis://host:6379/0)."
        )
    broker_db = int(number)
    return parts._replace(path=f"/{broker_db + 1 if broker_db < 15 else broker_db - 1}").geturl()


# CACHE_URL wins (locmemcache:// too). Unset, with a Redis broker: that Redis server (above), so
# every web process shares the SCIM rate limit, the credential cache's invalidations and the
# sign-in throttles. Otherwise per-process memory, fine for one process; the scale_out system check
# (nordpass_admin/checks.py) warns when a server with several processes would run on it.
CACHES = {
    "default": env.cache(
        "CACHE_URL", default=_cache_url_beside_broker(CELERY_BROKER_URL) or "locmemcache://"
    )
}

# --- SCIM (django-scim2's hooks; the product's SCIM layer lives in integrations/scim/) -------
_site = urlsplit(SITE_URL)
SCIM_SERVICE_PROVIDER = {
    "SCHEME": _site.scheme,
    "NETLOC": _site.netloc,
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The secret token from the panel's Integrations page, sent as "
            "'Authorization: Bearer <token>'.",
            "primary": True,
        }
    ],
    "USER_MODEL_GETTER": "integrations.scim.users.member_model",
    "USER_ADAPTER": "integrations.scim.users.ScimUser",
    "GROUP_MODEL": "accounts.models.Group",
    "GROUP_ADAPTER": "integrations.scim.groups.ScimGroup",
    "USER_FILTER_PARSER": "integrations.scim.filters.MemberFilterQuery",
    "GROUP_FILTER_PARSER": "integrations.scim.filters.GroupFilterQuery",
    "SERVICE_PROVIDER_CONFIG_MODEL": "integrations.scim.discovery.ServiceProviderConfig",
    "BASE_LOCATION_GETTER": "integrations.scim.tenancy.tenant_base_location",
    "GET_EXTRA_MODEL_FILTER_KWARGS_GETTER": "integrations.scim.tenancy.tenant_filter_kwargs_getter",
    "GET_EXTRA_MODEL_EXCLUDE_KWARGS_GETTER": (
        "integrations.scim.tenancy.removed_exclude_kwargs_getter"
    ),
    "AUTH_CHECK_MIDDLEWARE": "integrations.scim.middleware.ScimRequestMiddleware",
    "SCHEMAS_GETTER": "integrations.scim.discovery.default_schemas",
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
    "EXPOSE_SCIM_EXCEPTIONS": False,
}
# Requests per second per organization (0: no limit), and the burst allowed above that rate.
SCIM_RATE_LIMIT = env.float("SCIM_RATE_LIMIT", default=200.0)
SCIM_RATE_BURST = env.float("SCIM_RATE_BURST", default=400.0)
# Seconds a web process may reuse a verified token before asking the database again (0: never).
# Only with a shared cache (Redis); revocation still takes effect at once (integrations/
# credential_cache.py).
SCIM_AUTH_CACHE_SECONDS = env.int("SCIM_AUTH_CACHE_SECONDS", default=30)
# Failed SCIM authentications from one client address within the window before further failed
# attempts from it get 429 (0: no limit). Requests with a valid token are never slowed.
SCIM_AUTH_FAILURE_LIMIT = env.int("SCIM_AUTH_FAILURE_LIMIT", default=20)
SCIM_AUTH_FAILURE_WINDOW = env.int("SCIM_AUTH_FAILURE_WINDOW", default=300)
# Largest SCIM request body accepted (bytes); larger ones get 413.
SCIM_MAX_BODY_BYTES = env.int("SCIM_MAX_BODY_BYTES", default=1024 * 1024)
# Most resources one list or search response returns (RFC 7644 filter.maxResults).
SCIM_MAX_RESULTS = env.int("SCIM_MAX_RESULTS", default=1000)
# Days the provisioning log keeps SCIM requests.
SCIM_LOG_RETENTION_DAYS = env.int("SCIM_LOG_RETENTION_DAYS", default=30)
# Bytes of each request and response body kept in the provisioning log.
SCIM_LOG_BODY_BYTES = env.int("SCIM_LOG_BODY_BYTES", default=16 * 1024)
# On PostgreSQL, each web process writes its provisioning-log rows in one INSERT every this many
# seconds from a background thread instead of one per request (0: in the request).
SCIM_LOG_FLUSH_SECONDS = env.float("SCIM_LOG_FLUSH_SECONDS", default=0.5)
# Mass-deprovisioning guard (integrations/deprovision_guard.py): the defaults a new organization
# starts with (its owners change them in the panel). Within the window (seconds), the identity
# provider may suspend or remove this share of the organization's active members (0: guard off),
# and always at least MIN_MEMBERS; further deprovisionings are held for an admin.
DEPROVISION_GUARD_SHARE = env.float("DEPROVISION_GUARD_SHARE", default=0.2)
DEPROVISION_GUARD_MIN_MEMBERS = env.int("DEPROVISION_GUARD_MIN_MEMBERS", default=10)
DEPROVISION_GUARD_WINDOW_SECONDS = env.int("DEPROVISION_GUARD_WINDOW_SECONDS", default=3600)
# Email-domain verification (integrations/domains.py): the DNS servers that look up the TXT
# records, as comma-separated IP[:port] (empty: the system resolver), and how long a lookup waits.
DOMAIN_VERIFICATION_NAMESERVERS = env.str("DOMAIN_VERIFICATION_NAMESERVERS", default="")
DOMAIN_VERIFICATION_TIMEOUT = env.float("DOMAIN_VERIFICATION_TIMEOUT", default=5.0)

# --- Single sign-on (OpenID Connect relying party, integrations/oidc.py) --------------------------
# Seconds the provider's metadata and its signing keys stay in the cache. A token signed with a key
# not in the cached set fetches the set once more, unless it was fetched less than
# SSO_JWKS_MIN_REFRESH_SECONDS ago (made-up key ids cannot make every attempt call the provider).
SSO_METADATA_CACHE_SECONDS = env.int("SSO_METADATA_CACHE_SECONDS", default=3600)
SSO_JWKS_CACHE_SECONDS = env.int("SSO_JWKS_CACHE_SECONDS", default=3600)
SSO_JWKS_MIN_REFRESH_SECONDS = env.int("SSO_JWKS_MIN_REFRESH_SECONDS", default=10)
# Clock difference tolerated on an ID token's exp and iat.
SSO_CLOCK_SKEW_SECONDS = env.int("SSO_CLOCK_SKEW_SECONDS", default=60)
# Timeout of each call to the provider (discovery, keys, code exchange).
SSO_HTTP_TIMEOUT_SECONDS = env.float("SSO_HTTP_TIMEOUT_SECONDS", default=10.0)
# Accept an http:// issuer on a loopback address (a local test provider). Never in production.
SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = env.bool("SSO_ALLOW_INSECURE_LOOPBACK_ISSUER", default=False)

# --- Invitations ----------------------------------------------------------------------------------
# Delivery attempts before an invitation is marked failed (it can then be resent from the panel).
INVITATION_MAX_ATTEMPTS = env.int("INVITATION_MAX_ATTEMPTS", default=5)
# First retry delay in seconds; each later retry waits twice as long.
INVITATION_RETRY_BASE_SECONDS = env.int("INVITATION_RETRY_BASE_SECONDS", default=30)
# The sweep re-enqueues a pending invitation whose last attempt is older than this (seconds).
INVITATION_RETRY_AFTER = env.int("INVITATION_RETRY_AFTER", default=600)
# A send that has not finished after this many seconds is taken as lost with its worker.
INVITATION_SENDING_TIMEOUT = env.int("INVITATION_SENDING_TIMEOUT", default=900)
# One reminder this many hours before the link expires (0 turns reminders off).
INVITATION_REMINDER_HOURS = env.int("INVITATION_REMINDER_HOURS", default=48)
# Registration page: attempts per client address per window.
REGISTRATION_RATE_LIMIT = env.int("REGISTRATION_RATE_LIMIT", default=20)
REGISTRATION_RATE_WINDOW = env.int("REGISTRATION_RATE_WINDOW", default=600)

# --- Security -------------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
_https = SITE_URL.startswith("https://")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_https)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_https)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https and not DEBUG)
# Load balancers and proxies in front of the web servers: addresses or networks, comma-separated
# (empty: trust nobody, REMOTE_ADDR is the client). A request from one of them is attributed to the
# right-most X-Forwarded-For address that is not one of them (nordpass_admin/client_address.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
parse_trusted_proxies(TRUSTED_PROXIES)  # a malformed entry stops the start, naming it
# Health checks come from the load balancer over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=31536000 if _https and not DEBUG else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Logging --------------------------------------------------------------------------------------
# `plain` for a terminal, `json` (one object per line, docker-compose sets it) for a log pipeline.
# Either way each line names its request id (X-Request-Id) or Celery task (nordpass_admin/logging).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "nordpass_admin.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "nordpass_admin.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's own defaults give `django` and `django.server` handlers of their own (a second,
    # unformatted copy of each line under DEBUG); here they go through the one handler above.
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
    },
}

# --- Metrics (nordpass_admin/metrics.py) ----------------------------------------------------------
# /metrics answers 404 unless METRICS_TOKEN is set and sent as `Authorization: Bearer <token>`, or
# the client address is in METRICS_ALLOWED_IPS (addresses or networks; only with a token set).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Several gunicorn workers: a folder where each process writes its samples, summed per scrape.
# prometheus_client reads the variable itself, at import; emptied at start by
# nordpass_admin/gunicorn_conf.py.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

REST_FRAMEWORK: dict[str, list[str]] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
}
