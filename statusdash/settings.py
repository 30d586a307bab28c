"""statusdash settings, read from the environment (and an optional .env file).

Every variable is listed in .env.example. Defaults run the embedded single-machine
setup with no environment at all: SQLite under DATA_DIR, no Redis, plain HTTP on
loopback. Bad values stop start-up with a message naming the variable.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from statusdash.lib import filebroker
from statusdash.lib.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_map,
    env_networks,
    env_percent,
    env_str,
    load_env_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_env_file(Path(env_str("ENV_FILE", str(BASE_DIR / ".env"))))

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()
VAULT_PATH = Path(env_str("VAULT_PATH", str(DATA_DIR / "vault"))).resolve()
BACKUP_DIR = DATA_DIR / "backups"
# The database, its backups and the vault hold session keys, key hashes and channel secrets:
# their directories are the owner's alone (0700), whatever `make setup` or a umask left.
PRIVATE_DIRECTORIES = (
    DATA_DIR,
    DATA_DIR / "db",
    BACKUP_DIR,
    BACKUP_DIR / "databases",
    VAULT_PATH,
    VAULT_PATH / "certs",
)
for directory in PRIVATE_DIRECTORIES:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ImproperlyConfigured(f"DATA_DIR: cannot create {directory}: {error}") from None
    with contextlib.suppress(PermissionError):  # not ours (a read-only mount): its owner decides
        directory.chmod(0o700)


def _persistent_secret(name: str) -> str:
    """A secret from the environment, else one generated once and kept under DATA_DIR (0600).

    Processes starting together on a fresh DATA_DIR (web and worker) must end with one
    secret: each writes its candidate to a file of its own and links it into place, which
    succeeds for exactly one of them; everyone then reads the one that won.
    """
    value = env_str(name)
    if value:
        return value
    path = DATA_DIR / f".{name.lower()}"
    if not path.exists():
        candidate = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process won the race: use its secret
        finally:
            candidate.unlink()
    return path.read_text().strip()


SECRET_KEY = _persistent_secret("SECRET_KEY")
STATUS_JWT_SECRET = _persistent_secret("STATUS_JWT_SECRET")
if len(STATUS_JWT_SECRET) < 32:
    raise ImproperlyConfigured("STATUS_JWT_SECRET must be at least 32 characters long")
JWT_LIFETIME_SECONDS = env_int("JWT_LIFETIME_SECONDS", 3600, minimum=60)

DEBUG = env_bool("DEBUG", False)

STATUS_PORT = env_int("STATUS_PORT", 5000, minimum=1, maximum=65535)
PUBLIC_URL = env_str("PUBLIC_URL", f"http://127.0.0.1:{STATUS_PORT}").rstrip("/")
_public = urlsplit(PUBLIC_URL)
if _public.scheme not in ("http", "https") or not _public.hostname:
    raise ImproperlyConfigured(f"PUBLIC_URL must be an http(s) URL, got {PUBLIC_URL!r}")
CORS_ORIGIN = env_str("CORS_ORIGIN", f"{_public.scheme}://{_public.netloc}")

ALLOWED_HOSTS = sorted({_public.hostname, "localhost", "127.0.0.1", "[::1]", *env_list("ALLOWED_HOSTS")})
CSRF_TRUSTED_ORIGINS = sorted({f"{_public.scheme}://{_public.netloc}", *env_list("CORS_ORIGIN", CORS_ORIGIN)})

STATUS_ADMIN_PASSWORD = env_str("STATUS_ADMIN_PASSWORD")
MTLS_ENABLED = env_bool("MTLS_ENABLED", False)
# Addresses (or CIDR networks) of reverse proxies whose X-SSL-Client-* headers we believe.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

CPU_THRESHOLD = env_percent("CPU_THRESHOLD", 90)
MEMORY_THRESHOLD = env_percent("MEMORY_THRESHOLD", 85)
DISK_THRESHOLD = env_percent("DISK_THRESHOLD", 90)
RETENTION_DAYS = env_int("RETENTION_DAYS", 30, minimum=1, maximum=3650)

# How often agents report; a host is stale after STALE_AFTER_INTERVALS missed
# intervals and offline after OFFLINE_AFTER_INTERVALS.
REPORT_INTERVAL = env_int("REPORT_INTERVAL", 10, minimum=1, maximum=3600)
STALE_AFTER_INTERVALS = env_int("STALE_AFTER_INTERVALS", 3, minimum=1)
OFFLINE_AFTER_INTERVALS = env_int("OFFLINE_AFTER_INTERVALS", 6, minimum=2)
if OFFLINE_AFTER_INTERVALS <= STALE_AFTER_INTERVALS:
    raise ImproperlyConfigured("OFFLINE_AFTER_INTERVALS must be greater than STALE_AFTER_INTERVALS")

# The largest request body, and also the most a gzip body may inflate to: a larger
# inflated limit let a few kilobytes of gzip make the hub hold megabytes (security.md).
MAX_REPORT_BYTES = env_int("MAX_REPORT_BYTES", 1024 * 1024, minimum=1024)
if "MAX_DECODED_REPORT_BYTES" in os.environ:
    raise ImproperlyConfigured(
        "MAX_DECODED_REPORT_BYTES is no longer read: gzip bodies inflate to at most MAX_REPORT_BYTES; remove it"
    )
# Threads per web process for views and the ORM (statusdash/lib/request_threads.py): requests
# beyond this many at once wait their turn. SQLite: each keeps its connection; PostgreSQL: the
# process's pool (below) has one connection for each, and one for the Channels consumers.
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1, maximum=64)
# How long a process trusts an API key or certificate it has looked up, unless told of a change.
AUTH_CACHE_SECONDS = env_int("AUTH_CACHE_SECONDS", 10, minimum=0, maximum=300)
# How often each process looks for credential changes made by other processes (a revocation
# from `manage.py`, another web process): a revoked key stops working everywhere within this.
CREDENTIAL_CHECK_SECONDS = 0.5
FUTURE_TOLERANCE_SECONDS = 300

REDIS_URL = env_str("REDIS_URL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "audit",
    "accounts",
    "hosts",
    "metrics",
    "alerts",
    "services",
    "checks",
    "configfile",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "statusdash.lib.nul.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    # A session that owes a second factor, or an enrollment REQUIRE_2FA asks for, goes nowhere else.
    "accounts.middleware.TwoFactorGateMiddleware",
    # Who changes what, for the audit trail's model signals (audit/context.py).
    "audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "statusdash.urls"
ASGI_APPLICATION = "statusdash.asgi.application"
WSGI_APPLICATION = None

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
                "accounts.context_processors.rights",
            ],
        },
    },
]

SQLITE_PATH = DATA_DIR / "db" / "status-dashboard.db"
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(SQLITE_PATH)}}
    # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database's mode.
    with contextlib.suppress(PermissionError):
        os.close(os.open(SQLITE_PATH, os.O_WRONLY | os.O_CREAT, 0o600))
        SQLITE_PATH.chmod(0o600)
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "db" / "test-status-dashboard.db")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["OPTIONS"] = {
        # Many agents write at once: WAL lets readers run beside the writer, and
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the
        # busy timeout instead of failing with "database is locked" on lock upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA mmap_size=134217728;"
            "PRAGMA cache_size=-20000;"
        ),
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI, Django's docs say: no persistent connections, a pool. One pool per process,
    # shared by every thread that reaches the database: in a web process the WEB_THREADS
    # request threads and the one thread Channels' consumers run on (asgiref's), so no thread
    # ever waits for a connection while the server has room; in a worker or a command, the one
    # thread that runs tasks. A connection goes back to the pool when its request, consumer
    # call or task ends. None is opened ahead (min_size 0: with one, a process's first request
    # opened two, the one ahead and one grown for the waiting request, and a prefork worker
    # child, whose pool Celery closes after each task, did so for every task); unused ones
    # close, one a minute. A thread that cannot have one within 5 s (the server down or full)
    # gets an error, a 503 on ingest, instead of waiting on. docs/deploy.md counts them.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {"min_size": 0, "max_size": WEB_THREADS + 1, "max_idle": 60, "timeout": 5},
        # A statement sent through statusdash.lib.prepared (a report's) is prepared on its
        # connection after this many runs; Django's own cursors never are (they bind in the client).
        "prepare_threshold": 5,
    }

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "statusdash",
            "TIMEOUT": None,
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "statusdash"},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "statusdash",
            "TIMEOUT": None,
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    # Embedded: messages are files in one directory that the web process, the worker and its
    # beat thread all read and write (kombu's filesystem transport). The SQLite broker it
    # replaces loaded SQLAlchemy into the worker: 11.5 MiB of PSS (docs/benchmarks.md).
    _BROKER_DIR = DATA_DIR / "db" / "celery-broker"
    for _folder in ("messages", "control"):
        (_BROKER_DIR / _folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    # kombu's filesystem transport, with messages renamed into place once whole (see the module).
    CELERY_BROKER_URL = f"{filebroker.SCHEME}://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "messages"),
        "data_folder_out": str(_BROKER_DIR / "messages"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "db" / "celerybeat-schedule")
# Periodic sweeps; each app adds its entries below ("name": {"task": ..., "schedule": seconds}).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _public.scheme == "https"
CSRF_COOKIE_SECURE = _public.scheme == "https"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REPORT_BYTES

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"keyvalue": {"()": "statusdash.lib.logfmt.KeyValueFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "keyvalue"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# Dashboard log-in throttling (dashboard/login.py): after this many failed log-ins
# for one username from one address, further attempts are refused for the window.
# Messages stay on the server, in the session: the admin shows new agent keys and enrollment
# tokens once through a message, and the default cookie storage would send them back and forth
# in a readable (signed, not encrypted) cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1)
# Failed log-ins from one address, whatever the usernames, before it too is locked out.
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)

# --- Two-factor log-in (accounts/two_factor.py) ---
# Who must enroll a second factor (TOTP) before using the hub: "admins" (every admin, once
# one admin has enrolled, so a fresh hub is not locked before its first admin sets it up),
# "all" (everyone who logs in with a password), or "none" (anyone may enroll; no one must).
REQUIRE_2FA = env_choice("REQUIRE_2FA", "admins", ("admins", "all", "none"))
# Shown in the authenticator app beside the account name.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "statusdash")
# How long after the password step the code step may be completed.
LOGIN_CODE_STEP_SECONDS = 300

# --- Single sign-on, OpenID Connect (accounts/oidc.py) ---
# Set all three to offer "Sign in with SSO"; the provider's endpoints are discovered from
# OIDC_ISSUER/.well-known/openid-configuration on first use.
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
_oidc_given = [name for name in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET") if globals()[name]]
if _oidc_given and len(_oidc_given) != 3:
    raise ImproperlyConfigured(
        f"OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together; only {', '.join(_oidc_given)} is set"
    )
if OIDC_ISSUER and urlsplit(OIDC_ISSUER).scheme not in ("http", "https"):
    raise ImproperlyConfigured(f"OIDC_ISSUER must be an http(s) URL, got {OIDC_ISSUER!r}")
OIDC_ENABLED = bool(OIDC_ISSUER)
# The claim that carries the user's groups (a list or one string), and which of its values
# give which role: "idp-value:role" pairs. Empty map: the values are the role names themselves.
OIDC_ROLE_CLAIM = env_str("OIDC_ROLE_CLAIM", "groups")
OIDC_ROLE_MAP = env_map("OIDC_ROLE_MAP")
for _idp_value, _role in OIDC_ROLE_MAP.items():
    if _role not in ("viewer", "operator", "admin"):
        raise ImproperlyConfigured(f"OIDC_ROLE_MAP: {_idp_value!r} maps to {_role!r}, not viewer, operator or admin")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10, minimum=1, maximum=120)
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_CALLBACK_CLASS = "accounts.oidc.CallbackView"
OIDC_AUTHENTICATE_CLASS = "accounts.oidc.AuthenticationRequestView"
LOGIN_REDIRECT_URL_FAILURE = "/login/sso-refused/"
# Off: no password form anywhere (the log-in page, the admin's, POST /api/auth/token); SSO only.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)
if not PASSWORD_LOGIN and not OIDC_ENABLED:
    raise ImproperlyConfigured("PASSWORD_LOGIN=false needs OIDC_ISSUER: no one could log in")
# Model permissions (the admin site) come from the user's role (accounts/rights.py decides), from
# either backend. Without password log-in the one that checks passwords is not loaded, so no
# password is checked anywhere, whatever form a request reaches.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.RoleBackend" if PASSWORD_LOGIN else "accounts.backends.RolePermissionsBackend"
]
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("accounts.oidc.RoleClaimBackend")

# --- Alerting, rollups, retention and backups (alerts/, metrics/tasks.py, metrics/backups.py) ---
from celery.schedules import crontab  # noqa: E402

from statusdash.lib.env import env_tiers  # noqa: E402

# Transitions within this window go out as one message per channel (a rack losing power: one message).
ALERT_GROUP_WINDOW_SECONDS = env_int("ALERT_GROUP_WINDOW_SECONDS", 30, minimum=0, maximum=3600)
# Firing, unacknowledged alerts are notified again this often; 0 turns reminders off.
ALERT_REPEAT_MINUTES = env_int("ALERT_REPEAT_MINUTES", 240, minimum=0)
ALERT_SWEEP_SECONDS = env_int("ALERT_SWEEP_SECONDS", 30, minimum=1, maximum=3600)
ALERT_DISPATCH_SECONDS = env_int("ALERT_DISPATCH_SECONDS", 10, minimum=1, maximum=3600)
# First retry of a failed notification after this many seconds, doubling each time.
NOTIFY_RETRY_SECONDS = env_int("NOTIFY_RETRY_SECONDS", 10, minimum=1, maximum=600)
# Attempts before a notification is logged as failed (the first and five retries).
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 6, minimum=1, maximum=50)
# How long a delivery task may take before the dispatch sweep hands its notification to
# another (the worker died mid-send). Longer than any channel's own timeouts.
NOTIFY_LEASE_SECONDS = env_int("NOTIFY_LEASE_SECONDS", 120, minimum=2, maximum=3600)
# Resolved alerts, their transitions and finished notifications are kept this long; firing alerts always.
# On PostgreSQL, whether a report's 202 waits for its commit to reach the disk (WAL flush).
# Off by default: the guarantee SQLite gives (statusdash/lib/writelock.py), for far more reports a second.
INGEST_SYNCHRONOUS_COMMIT = env_bool("INGEST_SYNCHRONOUS_COMMIT", False)
ALERT_RETENTION_DAYS = env_int("ALERT_RETENTION_DAYS", 365, minimum=1, maximum=36500)
# The audit trail (who changed what, log-ins) is kept this long, pruned hourly.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1, maximum=36500)
RAW_RETENTION_HOURS = env_int("RAW_RETENTION_HOURS", 48, minimum=1, maximum=24 * RETENTION_DAYS)
# Raw samples keep their per-core/mount/interface detail this long, then only the charted columns.
DETAIL_RETENTION_HOURS = env_int("DETAIL_RETENTION_HOURS", 6, minimum=1, maximum=RAW_RETENTION_HOURS)
# (step, keep) seconds per rollup tier, finest first; keep is capped at RETENTION_DAYS. The
# defaults are what the charts read: 7 days from 15-minute buckets, 30 days from hourly ones.
ROLLUP_TIERS = env_tiers("ROLLUP_TIERS", "15m,1h", RETENTION_DAYS * 86400)
ROLLUP_SECONDS = env_int("ROLLUP_SECONDS", 60, minimum=5, maximum=3600)
BACKUP_KEEP = env_int("BACKUP_KEEP", 7, minimum=1)
BACKUP_HOUR = env_int("BACKUP_HOUR", 3, minimum=0, maximum=23)

CELERY_BEAT_SCHEDULE["alerts-sweep"] = {"task": "alerts.tasks.sweep_alerts", "schedule": ALERT_SWEEP_SECONDS}
CELERY_BEAT_SCHEDULE["alerts-dispatch"] = {
    "task": "alerts.tasks.dispatch_notifications",
    "schedule": ALERT_DISPATCH_SECONDS,
}
CELERY_BEAT_SCHEDULE["alerts-prune"] = {"task": "alerts.tasks.prune_alert_history", "schedule": 3600}
CELERY_BEAT_SCHEDULE["audit-prune"] = {"task": "audit.tasks.prune_audit_trail", "schedule": 3600}
CELERY_BEAT_SCHEDULE["metrics-rollup"] = {"task": "metrics.tasks.roll_up", "schedule": ROLLUP_SECONDS}
CELERY_BEAT_SCHEDULE["metrics-retention"] = {"task": "metrics.tasks.apply_retention", "schedule": 3600}
CELERY_BEAT_SCHEDULE["daily-backup"] = {
    "task": "metrics.tasks.backup_database",
    "schedule": crontab(hour=BACKUP_HOUR, minute=17),
}

# --- Service health events (services/) ---
# Seconds between a service's health events unless set per service; silent for 3 of these -> unknown.
SERVICE_EXPECTED_INTERVAL = env_int("SERVICE_EXPECTED_INTERVAL", 30, minimum=1, maximum=86400)
STATUS_PAGE_TITLE = env_str("STATUS_PAGE_TITLE", "Status")
# The public /status/ page is cached this long, in the server cache and by browsers and proxies.
STATUS_PAGE_CACHE_SECONDS = env_int("STATUS_PAGE_CACHE_SECONDS", 30, minimum=0, maximum=3600)
# How often an open status page re-reads itself (in the browser, no login, no reload).
STATUS_PAGE_POLL_SECONDS = env_int("STATUS_PAGE_POLL_SECONDS", 30, minimum=2, maximum=3600)
CELERY_TASK_ROUTES = {"statusdash.domain_event": {"queue": "domain-events"}}
# Listed so a worker started without -Q consumes domain events as well as the sweeps.
CELERY_TASK_QUEUES = {"celery": {}, "domain-events": {"exchange": "domain-events"}}
CELERY_BEAT_SCHEDULE["services-staleness"] = {"task": "services.sweep_stale", "schedule": 15.0}
CELERY_BEAT_SCHEDULE["services-availability"] = {"task": "services.roll_up_availability", "schedule": 600.0}
CELERY_BEAT_SCHEDULE["services-prune"] = {"task": "services.prune_history", "schedule": 3600.0}

# --- Service checks (checks/) ---
# Plugin checks may run only executables inside these directories (comma-separated, absolute).
CHECK_PLUGIN_DIRS = [str(Path(d)) for d in env_list("CHECK_PLUGIN_DIRS", "/usr/lib/nagios/plugins")]
for _plugin_dir in CHECK_PLUGIN_DIRS:
    if not Path(_plugin_dir).is_absolute() or ".." in Path(_plugin_dir).parts:
        raise ImproperlyConfigured(f"CHECK_PLUGIN_DIRS must list absolute directories, got {_plugin_dir!r}")
# Checks the hub runs at once (threads in the worker running the scheduler).
CHECK_CONCURRENCY = env_int("CHECK_CONCURRENCY", 20, minimum=1, maximum=200)
# Seconds between the scheduler's looks for due checks: how late a check may start, at most
# (a look is one indexed query; at 5 s the lag p95 was 4.9 s, docs/benchmarks.md).
CHECK_SCHEDULER_SECONDS = env_int("CHECK_SCHEDULER_SECONDS", 1, minimum=1, maximum=60)
# A tick the worker could not take before the next one is due is dropped (expires): a worker
# busy with a slow check meets one tick afterwards, not a queue of them.
CELERY_BEAT_SCHEDULE["checks-run-due"] = {
    "task": "checks.run_due",
    "schedule": float(CHECK_SCHEDULER_SECONDS),
    "options": {"expires": float(CHECK_SCHEDULER_SECONDS)},
}
CELERY_BEAT_SCHEDULE["checks-retention"] = {"task": "checks.apply_retention", "schedule": 3600.0}

# The hub's own metrics (GET /metrics: statusdash/lib/observability.py, metrics/exposition.py). Daphne and Celery
# processes each write their counters to files in this directory and a scrape sums them,
# so every process that shares a hub must share it (a local disk: the files are mmapped).
PROMETHEUS_MULTIPROC_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR") or str(DATA_DIR / "prometheus")).resolve()
try:
    PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
except OSError as error:
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR: cannot create {PROMETHEUS_MULTIPROC_DIR}: {error}") from None
# Scrapers at these addresses (or CIDR networks) read /metrics without a key; anyone
# else needs a read API key. Empty: a key is always required.
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS")

# --- mTLS certificates (hosts/pki.py) ---
# A client certificate this close to expiry shows on the host page and fires `certificate-expiring`.
CERT_EXPIRY_WARNING_DAYS = env_int("CERT_EXPIRY_WARNING_DAYS", 14, minimum=1, maximum=365)
# Adding a host (hosts/agent_views.py, dashboard/add_host.py): requests for /agent/* per client
# address and minute, and how long the one-time enrollment token of "Add host" stays valid.
AGENT_DOWNLOADS_PER_MINUTE = env_int("AGENT_DOWNLOADS_PER_MINUTE", 60, minimum=1, maximum=100_000)
ENROLLMENT_TOKEN_HOURS = env_int("ENROLLMENT_TOKEN_HOURS", 1, minimum=1, maximum=24 * 30)
# Offer every agent older than the hub's in its report's answer (hosts/agent_dist.py: update_offer);
# off: only hosts marked in the admin ("Update the agent from the hub") are offered it.
AGENT_AUTO_UPDATE = env_bool("AGENT_AUTO_UPDATE", False)
# The agent package the hub serves and offers (its __version__ is "the hub's agent version").
AGENT_SOURCE_DIR = Path(env_str("AGENT_SOURCE_DIR", str(BASE_DIR / "agent"))).resolve()
if not (AGENT_SOURCE_DIR / "__init__.py").is_file():
    raise ImproperlyConfigured(f"AGENT_SOURCE_DIR {AGENT_SOURCE_DIR} is not the agent package (no __init__.py)")
CELERY_BEAT_SCHEDULE["certificate-expiry"] = {
    "task": "hosts.tasks.check_certificate_expiry",
    "schedule": 3600.0,
}
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or CIDR network") from None

# --- The Celery app ---
# Imported with the settings, so that every Django process (web, worker, manage.py, tests)
# has it before any @shared_task is called (Celery's Django guide imports it from the
# project's __init__.py instead; here that would load Celery into the `make run`
# supervisor, which imports the package: 13 MiB of PSS, docs/benchmarks.md).
import statusdash.celery  # noqa: E402, F401
