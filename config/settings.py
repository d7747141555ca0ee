"""Settings, read from the environment only.

Local defaults need nothing installed: a SQLite file under ``var/`` and the private Redis that
``bin/with_redis.py`` starts on ``var/redis.sock``. ``DJANGO_ENV=production`` turns every default
that is unsafe in production into a refusal to start. Variables are listed in README.md.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DJANGO_ENV = env_choice("DJANGO_ENV", ("development", "production"), "development")
PRODUCTION = DJANGO_ENV == "production"

# --- Secrets and debug -------------------------------------------------------------------------
_DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-0123456789-abcdefghijklmnop"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production.")
    SECRET_KEY = _DEV_SECRET_KEY

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Applications ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_rq",
    "axes",
    "engagements",
    "territories",
    "routing",
    "handoff",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a lockout raised during login into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "engagements.context_processors.portal",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if PRODUCTION and not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL must be set when DJANGO_ENV=production.")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if PRODUCTION and DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    raise ImproperlyConfigured("SQLite is for local use only: set DATABASE_URL to PostgreSQL.")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # A demo runs the web server and a worker process on one file: wait for the other's writes.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, background jobs, cache -------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL must be set when DJANGO_ENV=production.")
if not REDIS_URL:
    # Where bin/with_redis.py starts the private Redis server on a fresh machine.
    REDIS_URL = f"unix://{VAR_DIR / 'redis.sock'}"

# Seconds a job may run before RQ kills it (a 1M-account balancing run or a package build fits).
JOB_TIMEOUT = env_int("JOB_TIMEOUT", 3600, minimum=10)
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": JOB_TIMEOUT},
}
# The worker re-arms scheduled upkeep (the daily refinement-trigger check) at RQ's maintenance
# passes, so a flushed or restarted Redis loses it for at most this long (engagements/worker.py).
RQ = {"WORKER_CLASS": "engagements.worker.Worker"}
WORKER_MAINTENANCE_SECONDS = env_int("WORKER_MAINTENANCE_SECONDS", 600, minimum=1)
# How long the manager and ops dashboards may reuse their engagement overviews while no activity
# is recorded anywhere (engagements.dashboard.engagement_overviews_reused); 0 turns it off.
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 300, minimum=0)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal",
        "TIMEOUT": 300,
    }
}

# --- Auth --------------------------------------------------------------------------------------
AUTH_USER_MODEL = "engagements.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username+IP before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed-login throttling: lock a username from one IP after AXES_FAILURE_LIMIT failures.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- Static and media files --------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production whitenoise serves straight from the app folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
# Largest file a user may upload (account lists, CRM exports), enforced by forms and views.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_MB", 50, minimum=1) * 1024 * 1024
# Largest total a spreadsheet's zip may declare once decompressed (zip-bomb guard).
MAX_XLSX_UNCOMPRESSED_BYTES = env_int("MAX_XLSX_UNCOMPRESSED_MB", 400, minimum=1) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Routing API -------------------------------------------------------------------------------
# Fixed window per token: ROUTING_API_RATE_LIMIT requests every ROUTING_API_RATE_WINDOW seconds
# (0 turns the limit off). Counted in the cache above, so every web process shares it.
ROUTING_API_RATE_LIMIT = env_int("ROUTING_API_RATE_LIMIT", 3000, minimum=0)
ROUTING_API_RATE_WINDOW = env_int("ROUTING_API_RATE_WINDOW", 60, minimum=1)
ROUTING_API_MAX_BATCH = env_int("ROUTING_API_MAX_BATCH", 1000, minimum=1)
# 4 MB: a batch of 1,000 records with every field at its 300-character limit (ASCII) is about
# 3.2 MB, so a legal maximal batch fits. Text in other scripts takes up to 4 bytes a character
# (6 when \u-escaped) and can exceed it: the 413 then names this limit (docs/api.md).
ROUTING_API_MAX_BODY_BYTES = env_int("ROUTING_API_MAX_BODY_KB", 4096, minimum=1) * 1024
# Django refuses to read a larger body before the API sees it; never below the API's limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(DATA_UPLOAD_MAX_MEMORY_SIZE, ROUTING_API_MAX_BODY_BYTES)
# Load the ZIP-code table (~1.2 s) when the process starts rather than on the first routed
# record. On by default in web servers and workers (see routing/apps.py), off elsewhere.
WARM_GEO = env_choice("WARM_GEO", ("auto", "on", "off"), "auto")

# --- Email -------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Territory Portal <portal@localhost>")

# --- Security ----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    # Only behind a proxy that sets this header itself (nginx, a load balancer).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz is polled by load balancers over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging -----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "rq.worker": {"level": "INFO"},
        # WeasyPrint reports every rendering step at INFO: a package build would flood the log.
        "weasyprint.progress": {"level": "WARNING"},
    },
}
