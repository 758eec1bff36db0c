"""One settings file, read from the environment with django-environ.

Everything has an embedded default that works with no `.env` (SQLite, django-q2's ORM broker, the
console email backend); production sets the variables listed in `.env.example`.
"""

import os
import tempfile
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
# The development key is public on purpose; backoffice.checks refuses it when DEBUG is off.
DEV_SECRET_KEY = "dev-insecure-change-me-0123456789-abcdefghijklmnopqrstuvwxyz-reverb-backoffice"
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet key(s) for Reverb tokens at rest, comma separated, newest first (MultiFernet rotation).
# Empty in development: a key is derived from SECRET_KEY and backoffice.checks warns.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "django_tables2",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "backoffice.apps.BackofficeConfig",
    "listings.apps.ListingsConfig",
    "orders.apps.OrdersConfig",
    "refunds.apps.RefundsConfig",
    "messaging.apps.MessagingConfig",
    "payouts.apps.PayoutsConfig",
    "automation.apps.AutomationConfig",
    "inventory.apps.InventoryConfig",
    # The bench (bench/): a development tool, listed for its one command, `manage.py bench`; no models.
    "bench.apps.BenchConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backoffice.background.ratebudget.InteractiveMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # django-axes first: refuses a locked-out user name or address before the password is checked.
    "backoffice.loginthrottle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work beside the writer (web + workers); IMMEDIATE takes the write lock at BEGIN
    # so two writers queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file, not Django's shared in-memory database: the live server's request threads and the
    # job/webhook threads then each get their own connection, as in production (WAL + busy timeout).
    # One file per test process, so two runs in one checkout never share it.
    _test_db = Path(tempfile.gettempdir()) / f"reverb-backoffice-test-{os.getpid()}.sqlite3"
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", str(_test_db))
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if "postgresql" in DATABASES["default"]["ENGINE"] and not env.bool("POSTGRES_JIT", default=False):
    # PostgreSQL compiles a plan whose estimated cost passes jit_above_cost: for the admin's queries (tens of
    # milliseconds at most) compiling cost more than running (the payouts report's totals: 72 ms, 27 without).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Uploaded listing photos (listings/photos.py) live here and are served by the app at MEDIA_URL, on
# SITE_URL, for Reverb to fetch: SITE_URL must be reachable from the internet for uploads to reach Reverb.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
LISTING_PHOTO_MAX_MB = env.int("LISTING_PHOTO_MAX_MB", default=10)
LISTING_PHOTO_MAX_COUNT = env.int("LISTING_PHOTO_MAX_COUNT", default=25)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# The inventory API (inventory/api.py): integration API keys (inventory/auth.py) are the only way in;
# a staff session is not an API credential.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["inventory.auth.IntegrationKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["inventory.auth.IsIntegration"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Reverb back office: inventory API",
    "DESCRIPTION": "Stock by SKU in, orders and listings out, for the shop's other systems.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}
# CSV stock feeds fetched from a URL (inventory/feeds.py): caps, and whether private addresses may be used.
INVENTORY_FEED_MAX_BYTES = env.int("INVENTORY_FEED_MAX_BYTES", default=5_000_000)
INVENTORY_FEED_TIMEOUT = env.float("INVENTORY_FEED_TIMEOUT", default=20.0)
# Outbound calls (backoffice/outbound.py: feeds, event deliveries, chat webhooks) to private or loopback
# addresses; INVENTORY_FEED_ALLOW_PRIVATE is its earlier name, still read.
OUTBOUND_ALLOW_PRIVATE = env.bool(
    "OUTBOUND_ALLOW_PRIVATE", default=env.bool("INVENTORY_FEED_ALLOW_PRIVATE", default=False)
)
# Outbound events kept undelivered while their receiver is down, in days (0: until delivered).
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=14)

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="backoffice@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("Admin", a) for a in env.list("ADMIN_EMAILS", default=[])]

# Production hardening; all on when DEBUG is off so `check --deploy` passes with no warnings.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Sessions end after a working day without a request (each request starts the period again).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=9 * 3600)
SESSION_SAVE_EVERY_REQUEST = True

# Login throttling (django-axes, backoffice/loginthrottle.py): after AXES_FAILURE_LIMIT failed logins a
# user name is locked out from that address (the pair: everyone else there still signs in) for
# AXES_COOLOFF_TIME hours from its last counted failure (tries during the lockout do not extend it, so the
# lockout page's time left holds); a success resets.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=1.0)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "backoffice.loginthrottle.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
if SECURE_PROXY_SSL_HEADER:
    AXES_CLIENT_IP_CALLABLE = "backoffice.loginthrottle.client_ip_behind_proxy"

# Content-Security-Policy (django-csp): scripts and styles only from our static files or carrying the
# request's nonce; no inline handlers or style attributes; never framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # Listing photos come from Reverb's image hosts; in development also from the emulator on loopback.
        "img-src": [
            SELF,
            "data:",
            "https:",
            *(["http://127.0.0.1:*", "http://localhost:*"] if DEBUG else []),
        ],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# django-q2. The ORM broker needs nothing else; REDIS_URL switches to Redis.
# timeout < retry so a task is never handed out twice while still running; attempts are bounded.
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "backoffice",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=600),
    "retry": env.int("Q_RETRY", default=720),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "queue_limit": 50,
    "poll": 0.5,
    "label": "Background tasks",
    # Every qcluster runs django-q2's scheduler unless told not to: scaled out, run it on one
    # (Q_SCHEDULER=False on the others), so each schedule is sent once.
    "scheduler": env.bool("Q_SCHEDULER", default=True),
}
# A task sent to the cluster without a stored result this long after the task timeout counts as lost with
# its worker and is sent again (backoffice/background/queue.py requeue_lost; the scaled test shortens it).
TASK_LEASE_GRACE = env.int("TASK_LEASE_GRACE", default=60)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Reverb
REVERB_PRODUCTION_URL = "https://api.reverb.com/api"
REVERB_SANDBOX_URL = "https://sandbox.reverb.com/api"
# Hosts besides Reverb's own an account's API URL may name (the token is sent there). "host" or "host:port"
# allows https; an entry "http://host[:port]" allows plain http too, and loopback hosts always may use http.
# Default: the emulator on loopback when DEBUG is on (development), nothing otherwise.
REVERB_ALLOWED_HOSTS = env.list(
    "REVERB_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "::1"] if DEBUG else []
)
REVERB_PER_PAGE = env.int("REVERB_PER_PAGE", default=50)
# The nightly reconciliation (backoffice/sync/reconcile.py): every night a complete pass over listings and
# the recent months, older history a share a night so all of it is checked within the sweep's nights; in
# chunks (one task each) of at most this many requests and seconds, well within the task timeout.
RECONCILE_RECENT_DAYS = env.int("RECONCILE_RECENT_DAYS", default=90)
RECONCILE_SWEEP_NIGHTS = env.int("RECONCILE_SWEEP_NIGHTS", default=7)
RECONCILE_CHUNK_REQUESTS = env.int("RECONCILE_CHUNK_REQUESTS", default=200)
RECONCILE_CHUNK_SECONDS = env.float("RECONCILE_CHUNK_SECONDS", default=240.0)
# The night's window (hours from reconcile_at) its requests must fit in at the account's request rate.
RECONCILE_WINDOW_HOURS = env.float("RECONCILE_WINDOW_HOURS", default=4.0)
# A first pull (and the pull after REVERB_CATCH_UP_AFTER_HOURS without a success) is a backfill
# (backoffice/sync/backfill.py): deadline work first, then live listings, then history; in chunks of at most
# this many requests and seconds, pacing itself at BACKFILL_SHARE of the account's rate (the rest refills for
# the 5-minute pulls and staff actions).
BACKFILL_CHUNK_REQUESTS = env.int("BACKFILL_CHUNK_REQUESTS", default=120)
BACKFILL_CHUNK_SECONDS = env.float("BACKFILL_CHUNK_SECONDS", default=240.0)
BACKFILL_SHARE = env.float("BACKFILL_SHARE", default=0.9)
REVERB_CATCH_UP_AFTER_HOURS = env.float("REVERB_CATCH_UP_AFTER_HOURS", default=24.0)
REVERB_CONNECT_TIMEOUT = env.float("REVERB_CONNECT_TIMEOUT", default=5.0)
REVERB_READ_TIMEOUT = env.float("REVERB_READ_TIMEOUT", default=30.0)
REVERB_MAX_RETRIES = env.int("REVERB_MAX_RETRIES", default=4)
# Seconds one Reverb request may take in all, body included (the read timeout bounds each wait for a byte).
REVERB_REQUEST_DEADLINE = env.float("REVERB_REQUEST_DEADLINE", default=60.0)
# A 429's Retry-After pauses the account's budget at most this many seconds.
REVERB_MAX_PAUSE = env.float("REVERB_MAX_PAUSE", default=300.0)
# A person's request (any web request): seconds it waits out a pause Reverb asked for (a 429's Retry-After)
# before answering "Reverb asks to wait N s" (0: at once), and seconds one Reverb call may take in all,
# retries included (REVERB_REQUEST_DEADLINE is a worker's).
REVERB_INTERACTIVE_WAIT = env.float("REVERB_INTERACTIVE_WAIT", default=0.0)
REVERB_INTERACTIVE_DEADLINE = env.float("REVERB_INTERACTIVE_DEADLINE", default=10.0)
# Tokens of the shared budget background work leaves for people's calls (background/ratebudget.py).
REVERB_INTERACTIVE_RESERVE = env.int("REVERB_INTERACTIVE_RESERVE", default=2)
# Requests per second per account, after a small burst: Reverb publishes no number; clients that talk to
# it live pace themselves at about 1 request/s (API-NOTES 16.3), and a 429's Retry-After is honoured.
REVERB_RATE_PER_SECOND = env.float("REVERB_RATE_PER_SECOND", default=1.0)
REVERB_RATE_BURST = env.int("REVERB_RATE_BURST", default=5)
# Publishing is asynchronous on Reverb (API-NOTES 16.1.3): re-read this long after, this many times.
LISTING_PUBLISH_CONFIRM_DELAY = env.float("LISTING_PUBLISH_CONFIRM_DELAY", default=2.0)
# Catalogue health counts a draft older than this many days as one to publish or delete.
CATALOGUE_OLD_DRAFT_DAYS = env.int("CATALOGUE_OLD_DRAFT_DAYS", default=30)
# Where staff reach this back office: emails and alerts carry absolute links built on it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Instant alerts: at most one message per person (and per shop chat) every this many minutes; a ship-by
# deadline is "at risk" this many hours before it.
ALERT_BATCH_MINUTES = env.int("ALERT_BATCH_MINUTES", default=5)
ALERT_DEADLINE_HOURS = env.int("ALERT_DEADLINE_HOURS", default=4)
LISTING_PUBLISH_CONFIRM_TRIES = env.int("LISTING_PUBLISH_CONFIRM_TRIES", default=3)
# "database": one bucket per account shared by every worker (backoffice/background/ratebudget.py);
# "local": per process.
REVERB_RATE_BUDGET = env.str("REVERB_RATE_BUDGET", default="database")
# Where background work runs (tasks, bulk jobs, webhook processing; backoffice/background/queue.py):
# "django_q" (the qcluster workers), "thread" (the web process), "inline" (at once), "none" (not sent).
# JOBS_BACKEND is its former name, still read so an existing .env keeps working.
WORKER_BACKEND = env.str("WORKER_BACKEND", default=env.str("JOBS_BACKEND", default="django_q"))
# How far an incremental pull reaches back before the last successful run's start (watermark.py).
REVERB_SYNC_OVERLAP_MINUTES = env.int("REVERB_SYNC_OVERLAP_MINUTES", default=15)
# Retention in days (0 keeps forever), applied daily by the clean-up schedule
# (backoffice/background/retention.py).
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=90)
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=730)
SYNC_RUN_RETENTION_DAYS = env.int("SYNC_RUN_RETENTION_DAYS", default=90)
STOCK_LOG_RETENTION_DAYS = env.int("STOCK_LOG_RETENTION_DAYS", default=90)
JOB_RETENTION_DAYS = env.int("JOB_RETENTION_DAYS", default=180)
ALERT_RETENTION_DAYS = env.int("ALERT_RETENTION_DAYS", default=90)
API_USAGE_RETENTION_DAYS = env.int("API_USAGE_RETENTION_DAYS", default=30)
RECONCILIATION_RETENTION_DAYS = env.int("RECONCILIATION_RETENTION_DAYS", default=90)
TASK_RETENTION_DAYS = env.int("TASK_RETENTION_DAYS", default=30)  # django-q's failed tasks
# The stock API's and the outbound events' records (inventory/plugins.py): a client retries within minutes;
# a given-up delivery stays replayable from its admin until FAILED_EVENT_RETENTION_DAYS after its event.
IDEMPOTENCY_KEY_RETENTION_DAYS = env.int("IDEMPOTENCY_KEY_RETENTION_DAYS", default=7)
INTEGRATION_CALL_RETENTION_DAYS = env.int("INTEGRATION_CALL_RETENTION_DAYS", default=30)
DELIVERED_EVENT_RETENTION_DAYS = env.int("DELIVERED_EVENT_RETENTION_DAYS", default=30)
FAILED_EVENT_RETENTION_DAYS = env.int("FAILED_EVENT_RETENTION_DAYS", default=90)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A 403 is one line (who, what path), not a traceback (backoffice/forbiddenlog.py).
    "filters": {"forbidden_one_line": {"()": "backoffice.forbiddenlog.ForbiddenOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}, "django.request": {"filters": ["forbidden_one_line"]}},
}
