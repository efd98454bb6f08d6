"""Settings from the environment (12-factor); defaults work on a developer machine."""

import importlib.util
import time
from datetime import timedelta
from pathlib import Path

import environ
from kombu import Exchange, Queue

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=_DEV_SECRET if DEBUG else None) or ""
if not SECRET_KEY:
    # Without DEBUG a real secret is required; fail loudly rather than sign with a known key.
    if env.bool("DJANGO_ALLOW_DEV_SECRET", default=False):
        SECRET_KEY = _DEV_SECRET
    else:
        raise environ.ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for development)."
        )
# Rotating the secret: the new one in DJANGO_SECRET_KEY, the old ones here (comma-separated)
# until the sessions, signatures and sealed payment tokens made with them are gone.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
# The HTTPS origin(s) the browser sees behind the proxy (e.g. https://orders.example.com), for
# the admin's and the browsable API's forms: Django checks Origin against these.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# The bounded contexts, registered here once: the app registry, the API's URL includes, the
# read-model rebuild and the outbox's per-context queues follow this list
# (tests/test_project_contexts.py fails when one of them misses a context).
BOUNDED_CONTEXTS = ["orders", "inventory", "payments", "shipping"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served from STATIC_ROOT, not a CDN
    "django_celery_beat",
    "outbox",
    *BOUNDED_CONTEXTS,
    "saga",
    "accounts",  # after knox: its token admin replaces knox's
]
# With OUTBOX_QUEUE_MODE=per_context, a handler runs on its context's queue (the first part of
# its name): one per bounded context, the saga's own, and the outbox's (its diagnostic ping).
OUTBOX_CONTEXT_QUEUES = [*BOUNDED_CONTEXTS, "saga", "outbox"]
if env.bool("SAGA_TEST_APPS", default=False):
    INSTALLED_APPS.append("tests.probe")  # a probe context for the outbox's own tests
    OUTBOX_CONTEXT_QUEUES.append("probe")
# The lab (benchmarks, load test, chaos harness) is a folder of the clone that neither
# `pip install .` nor the image ships: its commands exist wherever it can be imported.
if importlib.util.find_spec("lab") is not None:
    INSTALLED_APPS.append("lab")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # collectstatic's output (the admin's CSS, Swagger UI) straight from web, DEBUG or not.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RequestContextMiddleware",
    "config.server_errors.ServerErrorMiddleware",  # JSON 500s, and 503s when the database is down
    "saga.metrics.ApiRequestMetricsMiddleware",
    "config.request_limits.RequestLimitsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/saga"),
}
# Persistent connections: a connection per request or task is a round trip we do not need.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hot path's own statements (common/sql.py) are prepared on the server after this many
# runs on a connection; 0 turns it off (behind a transaction-mode pooler such as PgBouncer).
_prepare_after = env.int("DATABASE_PREPARE_THRESHOLD", default=2)
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["prepare_threshold"] = _prepare_after or None
# Nothing waits for ever (web and worker alike): a connection attempt gives up, a statement is
# cancelled, and a transaction left idle (a process stuck between two statements, with its row
# locks) is ended by the server. 0 turns a limit off.
_db_options["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=5)
DATABASE_STATEMENT_TIMEOUT_MS = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=30_000)
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS = env.int(
    "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", default=60_000
)
_db_options["options"] = (
    f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS}"
    f" -c idle_in_transaction_session_timeout={DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS}"
)
# The simulated payment gateway and carrier keep their ledgers through a connection of their
# own: like a real provider's, their records survive a rollback of our transaction.
DATABASES["providers"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
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
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Hashed names (cacheable for ever) and compressed copies, written by `manage.py collectstatic`.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTP and security ------------------------------------------------------------------
# TLS ends at a proxy; trust its header, and redirect only when told to.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env.list("DJANGO_SILENCED_SYSTEM_CHECKS", default=[])
# Request bodies above 64 KiB are refused (413) before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Payment tokens travel in events sealed (common/sealing.py): comma-separated Fernet keys, the
# first seals and all open (rotation); empty derives them from SECRET_KEY (seals) and
# SECRET_KEY_FALLBACKS (still open).
PAYMENT_TOKEN_KEY = env("PAYMENT_TOKEN_KEY", default="")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only, size- and depth-bounded, on every endpoint (config/request_limits.py).
    "DEFAULT_PARSER_CLASSES": ["config.request_limits.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "place_order": env("ORDER_THROTTLE_RATE", default="600/minute"),
        "auth_token": env("AUTH_THROTTLE_RATE", default="10/minute"),
        # Per account, whatever the address: distributed guessing of one password.
        "auth_account": env("AUTH_ACCOUNT_THROTTLE_RATE", default="20/hour"),
        # POSTs to /admin/login/ per client address.
        "admin_login": env("ADMIN_LOGIN_THROTTLE_RATE", default="10/minute"),
    },
    # Per-IP throttles trust X-Forwarded-For only as far as this many proxies append to it
    # (0: the client is REMOTE_ADDR, and a forged header changes nothing).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# API tokens (django-rest-knox): stored as digests, `Authorization: Token <key>`, each valid
# for API_TOKEN_TTL_HOURS; a password change revokes them all (accounts/revocation.py).
API_TOKEN_TTL_HOURS = env.float("API_TOKEN_TTL_HOURS", default=24.0)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Order-fulfilment saga API",
    "DESCRIPTION": "Place orders and follow their sagas to convergence.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two "status" fields (an order's, a correction's): each enum gets a name of its own.
    "ENUM_NAME_OVERRIDES": {"OrderStatusEnum": "orders.models.OrderView.Status"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_errors.document_common_errors",  # 401, 411, 413, 415, 404 where they apply
    ],
}

# --- Celery (at-least-once: the database, not the broker, is the record) ------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# A Redis that stops answering is noticed within seconds, not after the kernel's TCP timeout
# (the broker's connections; the throttle cache below fails faster still).
REDIS_SOCKET_TIMEOUT_SECONDS = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=5.0)
REDIS_CONNECT_TIMEOUT_SECONDS = env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=1.0)
# Throttle counters live in Redis, so every gunicorn process and thread shares them; while
# Redis is down they count per process instead (config/throttle_cache.py).
CACHES = {
    "default": {
        "BACKEND": "config.throttle_cache.RedisOrLocalCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "saga-cache",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_DEFAULT_QUEUE", default="outbox")
# The safety nets (sweep, reconciler, verification, pruning) have a queue of their own, so a
# backlog of deliveries can never starve them; a worker started without -Q consumes both.
MAINTENANCE_QUEUE = env("MAINTENANCE_QUEUE", default="maintenance")
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name)
                      for name in (CELERY_TASK_DEFAULT_QUEUE, MAINTENANCE_QUEUE)]
# Every task has a time limit below the broker's visibility timeout, so Redis never hands a
# task that is still running to a second worker. The soft limit raises inside the task (a hung
# delivery fails like an error and is retried); the hard one kills the worker process (the
# delivery's attempt was charged before it ran, see outbox/claims.py).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=CELERY_TASK_SOFT_TIME_LIMIT + 30)
BROKER_VISIBILITY_TIMEOUT_SECONDS = env.int("BROKER_VISIBILITY_TIMEOUT_SECONDS", default=600)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < BROKER_VISIBILITY_TIMEOUT_SECONDS:
    raise environ.ImproperlyConfigured(
        "need CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < "
        "BROKER_VISIBILITY_TIMEOUT_SECONDS"
    )
# Longer than any task may run (above); the outbox sweep recovers lost messages much sooner.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT_SECONDS,
    # A broker that is down or black-holed costs a publish about a second, not a hung request.
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
}
# Broker outages (DESIGN "Failure contract"): publishing on commit gives up fast (the rows are
# committed; the sweep sends them once the broker is back), while workers and beat keep
# reconnecting for as long as it takes.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Celery's consumer, but a broker stop with a task in flight no longer kills the worker
# (a kombu 5.7.0 bug: config/worker_consumer.py).
CELERY_WORKER_CONSUMER = "config.worker_consumer:BrokerOutageConsumer"
# Beat keeps its schedule in django-celery-beat's tables and writes CELERY_BEAT_SCHEDULE
# (end of this file) into them each time it starts.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup otherwise closes every database connection before and after every
# task: a new PostgreSQL connection per delivery task. Connections are kept, and closed only
# when unusable or past CONN_MAX_AGE, at task boundaries (outbox/tasks.py).
CELERY_DB_REUSE_MAX = 1_000_000_000

# --- Outbox -------------------------------------------------------------------------------
# A pending delivery younger than the grace is left to the on-commit fast path.
OUTBOX_SWEEP_GRACE_SECONDS = env.float("OUTBOX_SWEEP_GRACE_SECONDS", default=10.0)
# After the sweep sends a delivery, it is not sent again for this long.
OUTBOX_LEASE_SECONDS = env.float("OUTBOX_LEASE_SECONDS", default=30.0)
# Deliveries per second the workers are assumed to drain: a sweep that sends a backlog leases
# each chunk for the base lease plus the time to drain what it sent before it.
OUTBOX_DRAIN_PER_SECOND = env.float("OUTBOX_DRAIN_PER_SECOND", default=100.0)
OUTBOX_SWEEP_INTERVAL_SECONDS = env.float("OUTBOX_SWEEP_INTERVAL_SECONDS", default=2.0)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=100)
# Deliveries a worker runs in one transaction (one take, one commit); 1 runs each alone.
OUTBOX_GROUP_SIZE = env.int("OUTBOX_GROUP_SIZE", default=50)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_BACKOFF_BASE_SECONDS = env.float("OUTBOX_BACKOFF_BASE_SECONDS", default=0.5)
OUTBOX_BACKOFF_CAP_SECONDS = env.float("OUTBOX_BACKOFF_CAP_SECONDS", default=300.0)
# A delivery waiting out a provider outage (outbox/outages.py) is retried at least this often,
# so the step resumes within this long of the provider's return.
OUTBOX_RETRY_LATER_CAP_SECONDS = env.float("OUTBOX_RETRY_LATER_CAP_SECONDS", default=30.0)
OUTBOX_PRUNE_AFTER_DAYS = env.float("OUTBOX_PRUNE_AFTER_DAYS", default=7.0)
OUTBOX_PRUNE_BATCH = env.int("OUTBOX_PRUNE_BATCH", default=5000)
# Bounded growth (README, "Retention"): 0 turns a job off. The event store is kept whole
# unless asked; the gateway's call log and decided reconciliation actions are not.
EVENT_ARCHIVE_AFTER_DAYS = env.float("EVENT_ARCHIVE_AFTER_DAYS", default=0.0)
GATEWAY_CALLS_KEEP_DAYS = env.float("GATEWAY_CALLS_KEEP_DAYS", default=30.0)
RECONCILIATION_ACTIONS_KEEP_DAYS = env.float("RECONCILIATION_ACTIONS_KEEP_DAYS", default=90.0)
RETENTION_BATCH = env.int("RETENTION_BATCH", default=1000)
# "single": every handler on one queue; "per_context": a queue per bounded context.
OUTBOX_QUEUE_MODE = env("OUTBOX_QUEUE_MODE", default="single")
# Run the deliveries a handler's own events create in the same task (see outbox/relay.py).
OUTBOX_INLINE_HOPS = env.bool("OUTBOX_INLINE_HOPS", default=True)
OUTBOX_CHAOS = env("OUTBOX_CHAOS", default="")
# Delivery transactions commit without waiting for the WAL flush: faster; a commit lost in a
# database crash only means the delivery runs again (see outbox/delivery.py).
OUTBOX_ASYNC_COMMIT = env.bool("OUTBOX_ASYNC_COMMIT", default=False)

# --- Participants' providers ----------------------------------------------------------------
# The adapter behind each port: the dotted path of a function that returns one (README,
# "Adding a real provider"). The default is the simulated provider, with the faults below.
PAYMENTS_GATEWAY = env("PAYMENTS_GATEWAY", default="payments.gateway.simulated_gateway")
SHIPPING_CARRIER = env("SHIPPING_CARRIER", default="shipping.carrier.simulated_carrier")
PAYMENTS_FAULTS = env("PAYMENTS_FAULTS", default="")
# How long a call to the payment gateway or the carrier may wait for an answer (a slow_ms
# fault longer than this is a timeout). Handlers call providers inside their delivery's
# transaction, so this also bounds how long such a call holds the delivery's row locks.
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=10.0)
SHIPPING_FAULTS = env("SHIPPING_FAULTS", default="")
# A simulated outage: the gateway refuses every charge and refund (GatewayError) for this many
# seconds after the process started (0: none). Tests and chaos runs use it.
PAYMENTS_OUTAGE_SECONDS = env.float("PAYMENTS_OUTAGE_SECONDS", default=0.0)
PAYMENTS_OUTAGE_ENDS_AT = time.time() + PAYMENTS_OUTAGE_SECONDS if PAYMENTS_OUTAGE_SECONDS else 0.0
INVENTORY_HOLD_SECONDS = env.int("INVENTORY_HOLD_SECONDS", default=900)
# The expiry job: how often it runs, and how many holds one transaction expires.
INVENTORY_EXPIRY_INTERVAL_SECONDS = env.float("INVENTORY_EXPIRY_INTERVAL_SECONDS", default=30.0)
INVENTORY_EXPIRY_BATCH = env.int("INVENTORY_EXPIRY_BATCH", default=200)

# The console backend in development only; with DEBUG off the backend must be named
# (DJANGO_EMAIL_BACKEND), or `check --deploy` fails (orders/checks.py) and no mail is faked as
# sent. The tests use the file backend so a worker's mail can be read.
# (Django 6.0's settings: 6.1's MAILERS is out of reach while django-celery-beat caps Django.)
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend" if DEBUG else "",
)
EMAIL_HOST = env("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
# A hung mail server holds the order's lock no longer than this (seconds).
EMAIL_TIMEOUT = env.float("DJANGO_EMAIL_TIMEOUT", default=10.0)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default="") or None
# An SMTP server that stops answering fails the send after this long, not the worker.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="orders@example.com")

# --- Logging: JSON lines in production, readable in development ---------------------------
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)  # one shape for Django, gunicorn, Celery

# --- Saga coordination state and reconciler (saga app) ------------------------------------
# A step with no new event for this long is stalled: the reconciler retries it.
SAGA_STEP_DEADLINE_SECONDS = env.float("SAGA_STEP_DEADLINE_SECONDS", default=30.0)
# Retries of one stalled step before the reconciler compensates (only before the pivot).
SAGA_STEP_RETRIES = env.int("SAGA_STEP_RETRIES", default=3)
# A saga not converged this long after it started needs a person.
SAGA_BUDGET_SECONDS = env.float("SAGA_BUDGET_SECONDS", default=900.0)
# A forward step whose provider is down (a transient error or timeout) waits and retries for
# this long from when the step started; only then is the order compensated.
SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS = env.float("SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS",
                                                default=900.0)
SAGA_RECONCILE_INTERVAL_SECONDS = env.float("SAGA_RECONCILE_INTERVAL_SECONDS", default=5.0)
SAGA_RECONCILE_BATCH = env.int("SAGA_RECONCILE_BATCH", default=200)
# Capped exponential backoff between the reconciler's visits to one saga.
SAGA_BACKOFF_BASE_SECONDS = env.float("SAGA_BACKOFF_BASE_SECONDS", default=5.0)
SAGA_BACKOFF_CAP_SECONDS = env.float("SAGA_BACKOFF_CAP_SECONDS", default=300.0)
# An order's `saga.timeline` shows its newest events, at most this many.
SAGA_TIMELINE_LIMIT = env.int("SAGA_TIMELINE_LIMIT", default=100)
# A saga that needs a person is revisited ever less often, up to this (6 hours).
SAGA_ATTENTION_BACKOFF_CAP_SECONDS = env.float("SAGA_ATTENTION_BACKOFF_CAP_SECONDS",
                                               default=21600.0)
# Converged sagas are re-verified against the participants a page at a time.
SAGA_VERIFY_INTERVAL_SECONDS = env.float("SAGA_VERIFY_INTERVAL_SECONDS", default=60.0)
SAGA_VERIFY_BATCH = env.int("SAGA_VERIFY_BATCH", default=500)
# Every 10 s the chart gets a point; samples are kept whole for a day, hourly for a week.
SAGA_SAMPLE_INTERVAL_SECONDS = env.float("SAGA_SAMPLE_INTERVAL_SECONDS", default=10.0)
# How often beat counts what /metrics shows (a scrape itself counts nothing).
SAGA_METRICS_REFRESH_SECONDS = env.float("SAGA_METRICS_REFRESH_SECONDS", default=15.0)
# Refunds the saga did not plan wait for an operator's approval when this is on.
RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS = env.bool(
    "RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS", default=False
)


# --- Periodic tasks -------------------------------------------------------------------------
# Beat (DatabaseScheduler) writes these into its tables each time it starts, so a changed
# interval takes effect when beat restarts. Whole seconds, at least one: beat ticks once a
# second. They run on the maintenance queue, so a backlog of deliveries cannot starve them. A
# run that could not start in time is not worth starting late (the next one is on its way),
# but one that waited a few intervals, or a minute, still is: hence the expiry.
def _every(task: str, seconds: float) -> dict:
    every = max(1, round(seconds))
    return {
        "task": task,
        "schedule": float(every),
        "options": {"queue": MAINTENANCE_QUEUE, "expire_seconds": max(every * 5, 60)},
    }


CELERY_BEAT_SCHEDULE = {
    "outbox: sweep pending deliveries": _every("outbox.sweep", OUTBOX_SWEEP_INTERVAL_SECONDS),
    "outbox: prune done deliveries": _every("outbox.prune", 3600),
    "orders: forget old idempotency keys": _every("orders.forget_idempotency_keys", 3600),
    "inventory: expire holds": _every("inventory.expire_holds", INVENTORY_EXPIRY_INTERVAL_SECONDS),
    "outbox: archive old events": _every("outbox.archive_events", 3600),
    "payments: forget old gateway calls": _every("payments.forget_gateway_calls", 3600),
    "saga: archive old reconciliation actions": _every("saga.archive_actions", 3600),
    "saga: reconcile drifted sagas": _every("saga.reconcile", SAGA_RECONCILE_INTERVAL_SECONDS),
    "saga: verify converged sagas": _every("saga.verify", SAGA_VERIFY_INTERVAL_SECONDS),
    "saga: sample convergence": _every("saga.sample_convergence", SAGA_SAMPLE_INTERVAL_SECONDS),
    "saga: refresh metrics": _every("saga.refresh_metrics", SAGA_METRICS_REFRESH_SECONDS),
}
