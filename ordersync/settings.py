"""OrderSync settings, read from the environment.

Defaults let a fresh clone run with nothing installed beyond Python: SQLite, a
filesystem Celery broker in ``var/``, local media. Production values come from the
environment (see the README's configuration reference).
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

PRODUCTION = env.bool("ORDERSYNC_PRODUCTION", default=False)
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "ORDERSYNC_PRODUCTION is on but DJANGO_SECRET_KEY is the development key "
        "or shorter than 50 characters. Set a long random DJANGO_SECRET_KEY."
    )

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",
    "ordersync.core",
    "ordersync.counters",
    "ordersync.uploads",
    "ordersync.submissions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ordersync.core.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its own answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "ordersync.urls"
WSGI_APPLICATION = "ordersync.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ordersync.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker write to one file: wait for locks instead of
    # failing, and take the write lock up front so transactions never deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too, not Django's shared in-memory database: there a write
    # from a second thread (the live server, a background worker) fails at once
    # with "database table is locked" instead of waiting like the real file does.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-ordersync.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"  # noqa: E501
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: after AXES_FAILURE_LIMIT wrong passwords for one user name from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None

# Internationalisation: Russian first, English on request.
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production whitenoise serves straight from static/, no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# The upload wizard refuses larger files while they stream in.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)
# Bytes per CSV part sent to Metrika (its cap is 1 GB); problems kept in full for
# the preview table.
UPLOAD_PART_BYTES = env.int("UPLOAD_PART_BYTES", default=512 * 1024 * 1024)
UPLOAD_MAX_PROBLEMS = env.int("UPLOAD_MAX_PROBLEMS", default=10_000)
# Data rows one file may have; reading stops at the first row over it.
UPLOAD_MAX_ROWS = env.int("UPLOAD_MAX_ROWS", default=10_000_000)
# A user may start this many uploads per window; more get "429 Too Many Requests".
UPLOAD_RATE_LIMIT = env.int("UPLOAD_RATE_LIMIT", default=30)
UPLOAD_RATE_WINDOW_SECONDS = env.int("UPLOAD_RATE_WINDOW_SECONDS", default=60)

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    # Uploads live in S3-compatible storage so workers on other machines read them.
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: a filesystem broker by default, so the default run still has a real,
# separate worker process without any server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "sweep-submissions": {
        "task": "submissions.sweep",
        "schedule": timedelta(
            seconds=env.float("SUBMISSION_SWEEP_SECONDS", default=60)
        ),
    },
    "requeue-stuck-upload-jobs": {
        "task": "uploads.requeue_stuck",
        "schedule": timedelta(minutes=1),
    },
    "purge-upload-files": {
        "task": "submissions.purge_files",
        "schedule": timedelta(hours=1),
    },
    "refresh-yandex-tokens": {
        "task": "counters.refresh_due_tokens",
        "schedule": timedelta(
            minutes=env.int("TOKEN_REFRESH_EVERY_MINUTES", default=60)
        ),
    },
}

# Yandex Metrika and Yandex OAuth.
METRIKA_API_URL = env.str("METRIKA_API_URL", default="https://api-metrika.yandex.net")
YANDEX_OAUTH_URL = env.str("YANDEX_OAUTH_URL", default="https://oauth.yandex.ru")
YANDEX_LOGIN_URL = env.str("YANDEX_LOGIN_URL", default="https://login.yandex.ru")
YANDEX_OAUTH_CLIENT_ID = env.str("YANDEX_OAUTH_CLIENT_ID", default="")
YANDEX_OAUTH_CLIENT_SECRET = env.str("YANDEX_OAUTH_CLIENT_SECRET", default="")
METRIKA_CONNECT_TIMEOUT = env.float("METRIKA_CONNECT_TIMEOUT", default=10.0)
METRIKA_READ_TIMEOUT = env.float("METRIKA_READ_TIMEOUT", default=300.0)
YANDEX_OAUTH_SCOPES = env.list(
    "YANDEX_OAUTH_SCOPES", default=["metrika:read", "metrika:offline_data"]
)
# Empty: the callback URL is built from the request (set it behind a proxy that
# rewrites hosts, and register exactly this URL in the Yandex OAuth app).
YANDEX_OAUTH_REDIRECT_URI = env.str("YANDEX_OAUTH_REDIRECT_URI", default="")
# Tokens are refreshed once less than this much lifetime is left (or half of it).
TOKEN_REFRESH_MARGIN = timedelta(days=env.int("TOKEN_REFRESH_MARGIN_DAYS", default=30))

# Yandex tokens are encrypted with these Fernet keys, newest first; they are not
# derived from SECRET_KEY. Outside production an empty list means "generate one key
# into var/token-keys"; production refuses to start without them.
TOKEN_ENCRYPTION_KEYS = env.list("ORDERSYNC_TOKEN_KEYS", default=[])
TOKEN_KEYS_FILE = VAR_DIR / "token-keys"
if PRODUCTION and not TOKEN_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "ORDERSYNC_PRODUCTION is on but ORDERSYNC_TOKEN_KEYS is empty. Set it to one "
        "or more comma-separated Fernet keys, newest first (generate one with "
        "python manage.py rotate_token_keys --generate-key)."
    )

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ordersync@localhost")
# Links in e-mails sent by workers, which have no request to build them from.
ORDERSYNC_SITE_URL = env.str("ORDERSYNC_SITE_URL", default="http://127.0.0.1:8000")

# Submissions to Metrika (ordersync.submissions): retry policy, per-account
# parallel limit (Metrika allows 3 requests at once per Yandex login), the sweeper.
SUBMISSION_RETRY_BASE_SECONDS = env.float("SUBMISSION_RETRY_BASE_SECONDS", default=30)
SUBMISSION_RETRY_MAX_SECONDS = env.float("SUBMISSION_RETRY_MAX_SECONDS", default=1800)
SUBMISSION_MAX_FAILURES = env.int("SUBMISSION_MAX_FAILURES", default=6)
SUBMISSION_RATE_LIMIT_SECONDS = env.float("SUBMISSION_RATE_LIMIT_SECONDS", default=15)
SUBMISSION_PARALLEL_PER_ACCOUNT = env.int("SUBMISSION_PARALLEL_PER_ACCOUNT", default=1)
SUBMISSION_PARALLEL_WAIT_SECONDS = env.float(
    "SUBMISSION_PARALLEL_WAIT_SECONDS", default=5
)
SUBMISSION_HEARTBEAT_SECONDS = env.float("SUBMISSION_HEARTBEAT_SECONDS", default=10)
SUBMISSION_STALE_SECONDS = env.float("SUBMISSION_STALE_SECONDS", default=60)
SUBMISSION_LOST_AFTER_SECONDS = env.float("SUBMISSION_LOST_AFTER_SECONDS", default=600)
SUBMISSION_SWEEP_SECONDS = env.float("SUBMISSION_SWEEP_SECONDS", default=60)
# Countdowns must stay below the broker's visibility timeout; longer waits (the
# daily quota) are queued by the sweeper when they are due.
SUBMISSION_MAX_COUNTDOWN_SECONDS = env.float(
    "SUBMISSION_MAX_COUNTDOWN_SECONDS", default=600
)
SUBMISSION_MAX_CLAIMS = env.int("SUBMISSION_MAX_CLAIMS", default=30)
SUBMISSION_RECONCILE_GRACE_SECONDS = env.float(
    "SUBMISSION_RECONCILE_GRACE_SECONDS", default=30
)
SUBMISSION_RECONCILE_SKEW_SECONDS = env.float(
    "SUBMISSION_RECONCILE_SKEW_SECONDS", default=300
)
SUBMISSION_CONFIRM_INTERVAL_SECONDS = env.float(
    "SUBMISSION_CONFIRM_INTERVAL_SECONDS", default=120
)
SUBMISSION_CONFIRM_TIMEOUT_HOURS = env.int(
    "SUBMISSION_CONFIRM_TIMEOUT_HOURS", default=6
)
UPLOAD_RETENTION_DAYS = env.int("UPLOAD_RETENTION_DAYS", default=30)
UPLOAD_DRAFT_RETENTION_DAYS = env.int("UPLOAD_DRAFT_RETENTION_DAYS", default=7)
# A reading job silent this long lost its worker; it is started again at most
# UPLOAD_JOB_MAX_ATTEMPTS times in all.
UPLOAD_JOB_STUCK_MINUTES = env.float("UPLOAD_JOB_STUCK_MINUTES", default=10)
UPLOAD_JOB_MAX_ATTEMPTS = env.int("UPLOAD_JOB_MAX_ATTEMPTS", default=3)
# A hostile file may hang or eat memory: the reading task gets a time limit, each
# worker child an address-space cap, and the task is acknowledged when it starts,
# so a child killed on a file is never redelivered by the broker in a loop; the
# sweeper above restarts it, counting attempts.
UPLOAD_JOB_TIME_LIMIT_SECONDS = env.int("UPLOAD_JOB_TIME_LIMIT_SECONDS", default=1800)
WORKER_MEMORY_LIMIT_MB = env.int("WORKER_MEMORY_LIMIT_MB", default=3072)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB", default=768 * 1024
)
CELERY_TASK_ANNOTATIONS = {
    "uploads.run_job": {
        "soft_time_limit": UPLOAD_JOB_TIME_LIMIT_SECONDS,
        "time_limit": UPLOAD_JOB_TIME_LIMIT_SECONDS + 60,
        "acks_late": False,
        "reject_on_worker_lost": False,
    }
}

# Production hardening; `manage.py check --deploy` passes with these.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
