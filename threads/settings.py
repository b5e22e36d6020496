"""Django settings for Threads: one configuration surface, read from the environment.

Every environment variable read here is listed, with its default, in README.md.
"""

import os
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from threads.dburl import parse_database_url
from threads.redis_urls import app_redis_url, stores_setting

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("THREADS_VAR_DIR") or BASE_DIR / "var").resolve()


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable (1/true/yes/on, 0/false/no/off)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
                 if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "compat.contrib.django",
    "ops",
    # Periodic tasks in the database (django-celery-beat's tables), edited in the admin.
    "compat.contrib.django.beat",
    "threads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "threads.limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "threads.debug.LocalDebugPageMiddleware",
]
# Security headers on every response. SecurityMiddleware: nosniff, Referrer-Policy, COOP (and, behind
# HTTPS, HSTS and the redirect); XFrameOptionsMiddleware: X-Frame-Options DENY; django-csp: this
# Content-Security-Policy unless the view set its own (the /ops/ dashboard and /media/ do).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # DRF's browsable API and the admin set style attributes; styles cannot run script.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Behind HTTPS (DJANGO_HTTPS=1): secure cookies, redirect to https, HSTS; a proxy that terminates TLS
# says so in X-Forwarded-Proto (DJANGO_TRUST_X_FORWARDED_PROTO=1, only if it strips the client's own).
THREADS_HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = THREADS_HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31_536_000 if THREADS_HTTPS else 0))
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The debug page (make run) is for this machine only, and hides settings that carry credentials.
DEFAULT_EXCEPTION_REPORTER_FILTER = "threads.debug.SafeExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "threads.debug.LocalOnlyExceptionReporter"

# Request bodies: JSON (and every other non-multipart body) up to THREADS_MAX_JSON_BYTES, refused with a
# JSON 413 before it is read (threads/limits.py); Django's own bound is the same figure.
THREADS_MAX_JSON_BYTES = int(os.environ.get("THREADS_MAX_JSON_BYTES", 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = THREADS_MAX_JSON_BYTES

ROOT_URLCONF = "threads.urls"
WSGI_APPLICATION = "threads.wsgi.application"
ASGI_APPLICATION = "threads.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = os.environ.get("DATABASE_URL", "").strip()
if _database_url:
    DATABASES = {"default": parse_database_url(_database_url, BASE_DIR)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "threads.sqlite3"}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and DATABASES["default"]["NAME"] != ":memory:":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and worker processes share the file: wait for locks instead of failing, take the write
    # lock up front (no deadlock on lock upgrade), and let readers run beside the writer (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"
    )
    # The test database is a file, so end-to-end tests can share it with real worker processes.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(Path(tempfile.gettempdir()) / f"threads-test-{os.getpid()}.sqlite3")
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves static files from the web process also when DEBUG is off: from STATIC_ROOT after
# `manage.py collectstatic` (the Dockerfile runs it), and straight from the apps' static/ folders
# without it, so a checkout run with DJANGO_DEBUG=0 still loads the dashboard's script.
WHITENOISE_USE_FINDERS = True
try:  # WhiteNoise warns at every start when STATIC_ROOT is missing
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("THREADS_MEDIA_ROOT") or VAR_DIR / "media")

REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "EXCEPTION_HANDLER": "threads.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "threads.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Throttles (threads/api/throttles.py): 429 with Retry-After past these rates.
    "DEFAULT_THROTTLE_RATES": {
        "auth": os.environ.get("THREADS_THROTTLE_AUTH_IP", "30/min"),
        "auth_username": os.environ.get("THREADS_THROTTLE_AUTH_USERNAME", "10/min"),
        "fact_check": os.environ.get("THREADS_THROTTLE_FACT_CHECK", "5/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The client address is REMOTE_ADDR unless this many proxies in front append to X-Forwarded-For
    # (DRF's default trusts any X-Forwarded-For, which lets a client pick its own address).
    "NUM_PROXIES": int(os.environ.get("THREADS_NUM_PROXIES", 0)),
}
# The OpenAPI schema at /api/schema/ (threads/api/schema.py).
SPECTACULAR_SETTINGS = {
    "TITLE": "Threads API",
    "DESCRIPTION": "Posts, comments, likes, follows, images, fact checks and search (docs/domain.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["threads.api.schema.api_paths_only"],
}

# --- The client's guide, section 4, verbatim (comments translated) -------------------
# Celery configuration
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "redis://localhost:6379/0")

# task configuration
CELERY_TASK_SERIALIZER = 'json'
CELERY_RESULT_SERIALIZER = 'json'
CELERY_ACCEPT_CONTENT = ['json']
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True

# retry configuration
CELERY_TASK_RETRY_DELAY = 60  # delay between retries
CELERY_TASK_MAX_RETRIES = 3   # maximum number of retries

# task routing
CELERY_TASK_ROUTES = {
    'threads.tasks.fact_check_content': {'queue': 'ai_queue'},
    'threads.tasks.process_image': {'queue': 'image_queue'},
    'threads.tasks.*': {'queue': 'default'},
}
# --- end of the guide's block ---------------------------------------------------------

CELERY_TASK_DEFAULT_QUEUE = "default"
# The guide routes `threads.tasks.process_image`; the image tasks that exist are these. Exact names
# are listed first, so they win over the guide's `threads.tasks.*` catch-all (first match wins).
CELERY_TASK_ROUTES = {
    **{f"threads.tasks.{name}": {"queue": "image_queue"} for name in (
        "process_image_pipeline", "validate_image", "compress_image", "generate_thumbnails",
        "update_image_metadata", "notify_processing_complete")},
    **CELERY_TASK_ROUTES,
}
# Facade settings: prefixes of every broker / result-store key (tests set unique ones).
CELERY_BROKER_NAMESPACE = os.environ.get("CELERY_BROKER_NAMESPACE", "dramatiq")
CELERY_RESULT_NAMESPACE = os.environ.get("CELERY_RESULT_NAMESPACE", "compat")
# The Redis of the facade's own stores when the result backend is not Redis ("false": run without them).
CELERY_STORES_URL = stores_setting(os.environ.get("CELERY_STORES_URL"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", False)
# Operations: alerts for tasks that fail for good (also mailed to ADMINS), /metrics token, and the
# scheduler entries the dashboard shows (see docs/operations.md, docs/ops-dashboard.md).
CELERY_ALERT_WEBHOOK_URL = os.environ.get("CELERY_ALERT_WEBHOOK_URL") or None
CELERY_METRICS_TOKEN = os.environ.get("CELERY_METRICS_TOKEN") or None
CELERY_OPS_SCHEDULER_ENTRIES = "threads.management.commands.scheduler:default_entries"
# The scheduler daemon's Redis key prefix when it runs with --key-prefix (default scheduler:<app name>).
CELERY_OPS_SCHEDULER_PREFIX = os.environ.get("CELERY_OPS_SCHEDULER_PREFIX") or None
# Periodic tasks come from the database (edited in the admin) plus CELERY_BEAT_SCHEDULE, synced into it.
CELERY_BEAT_SCHEDULER = (
    os.environ.get("CELERY_BEAT_SCHEDULER") or "django_celery_beat.schedulers:DatabaseScheduler"
)

# --- Threads domain settings ------------------------------------------------------------
# Redis for the app's own keys (counter deltas, AI rate limit); every key starts with the prefix.
# Unset: the Redis of the facade's stores (threads/redis_urls.py); an amqp:// broker is never it.
THREADS_REDIS_URL = app_redis_url(os.environ.get("THREADS_REDIS_URL"), CELERY_RESULT_BACKEND,
                                  CELERY_STORES_URL, CELERY_BROKER_URL)
THREADS_REDIS_PREFIX = os.environ.get("THREADS_REDIS_PREFIX", "threads:")
# Django's cache (the API throttles' history, shared by every web process): Django's own Redis backend
# on the same Redis, under the same prefix, JSON-serialised (never pickle).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": THREADS_REDIS_URL,
        "KEY_PREFIX": f"{THREADS_REDIS_PREFIX}cache",
        "OPTIONS": {"serializer": "threads.cache.JSONSerializer", "socket_timeout": 2,
                    "socket_connect_timeout": 2},
    }
}
# Seconds between counter flushes scheduled by `manage.py scheduler` (0 disables the default entry).
THREADS_COUNTER_FLUSH_INTERVAL = float(os.environ.get("THREADS_COUNTER_FLUSH_INTERVAL", 5))
THREADS_POST_MAX_LENGTH = int(os.environ.get("THREADS_POST_MAX_LENGTH", 500))
THREADS_FANOUT_BATCH = int(os.environ.get("THREADS_FANOUT_BATCH", 500))
THREADS_DEFAULT_FOLLOWS = [n.strip() for n in os.environ.get("THREADS_DEFAULT_FOLLOWS", "alice").split(",")
                           if n.strip()]
# AI fact checks: the official openai SDK when OPENAI_API_KEY is set, else the offline checker.
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "") or None
OPENAI_MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TIMEOUT = float(os.environ.get("OPENAI_TIMEOUT", 30))
THREADS_AI_CALLS_PER_MINUTE = int(os.environ.get("THREADS_AI_CALLS_PER_MINUTE", 60))
THREADS_AI_RATE_LIMIT_WAIT = float(os.environ.get("THREADS_AI_RATE_LIMIT_WAIT", 60))
THREADS_AI_RETRY_COUNTDOWN = float(os.environ.get("THREADS_AI_RETRY_COUNTDOWN", 60))  # the guide's 60 s
# Images: limits checked by validate_image before any decoding.
THREADS_IMAGE_MAX_BYTES = int(os.environ.get("THREADS_IMAGE_MAX_BYTES", 10 * 1024 * 1024))
# ...and at the HTTP layer (threads/limits.py): a multipart body over THREADS_UPLOAD_MAX_BYTES is refused
# by its Content-Length, a file over THREADS_IMAGE_MAX_BYTES as it streams in; both a JSON 413, nothing
# stored. Files over FILE_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB) spool to a temporary file meanwhile.
THREADS_UPLOAD_MAX_BYTES = int(
    os.environ.get("THREADS_UPLOAD_MAX_BYTES") or THREADS_IMAGE_MAX_BYTES + 64 * 1024
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "threads.limits.FileSizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
THREADS_IMAGE_MAX_PIXELS = int(os.environ.get("THREADS_IMAGE_MAX_PIXELS", 40_000_000))
THREADS_IMAGE_MAX_SIDE = int(os.environ.get("THREADS_IMAGE_MAX_SIDE", 2048))
THREADS_THUMBNAIL_SIZES = [int(n) for n in os.environ.get("THREADS_THUMBNAIL_SIZES", "64,256,640").split(",")]
# Search: the database's full-text engine, or Elasticsearch when ELASTICSEARCH_URL is set.
ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")
ELASTICSEARCH_INDEX = os.environ.get("ELASTICSEARCH_INDEX", "content")
# E-mail: Django's backends (console by default; SMTP via EMAIL_BACKEND=...smtp.EmailBackend + EMAIL_*).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Threads <noreply@threads.local>")
ADMINS = [("ops", a.strip()) for a in os.environ.get("THREADS_ADMIN_EMAILS", "").split(",") if a.strip()]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("THREADS_LOG_LEVEL", "INFO")},
}
