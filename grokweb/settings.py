"""Grokweb settings: one module, configured by the environment.

Unset `DATABASE_URL` / `REDIS_URL` give the embedded default (SQLite under
`var/`, in-memory channel layer, in-process Celery); set them for the team
deployment. Nothing else differs between the two.
"""
from __future__ import annotations

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# .env in the checkout fills in what the environment leaves unset, unless READ_DOTENV=false:
# the test run sets that (tests/settings.py), so a developer's real keys never reach a test.
if env.bool("READ_DOTENV", default=True) and (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _secret_key() -> str:
    """Use SECRET_KEY, else a random key kept under var/ so sessions survive restarts."""
    value = env.str("SECRET_KEY", default="")
    if value:
        return value
    from django.core.management.utils import get_random_secret_key

    VAR_DIR.mkdir(exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    # The project's apps, bottom to top (each imports only those above it in this list: see pyproject.toml).
    "gateways",
    "usage",
    "accounts",
    "chat",
    "teamapi",
    "emulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A NUL in a query, form or JSON body is refused before any view (PostgreSQL cannot store it).
    "grokweb.input_guard.NulGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.AccountStatusMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp) on every answer: scripts only from our own files, plus
# the import map, which carries the request's nonce (a JSON data block such as json_script
# is not run, so it needs none). Style attributes stay allowed (usage meters; KaTeX's
# rendered math is made of them), <style> elements do not. Images: ours, data: and blob:
# (pasted attachments), nothing from elsewhere. No framing, no plugins, no <base>, forms
# post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

ROOT_URLCONF = "grokweb.urls"
ASGI_APPLICATION = "grokweb.asgi.application"
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
                "grokweb.nav.nav",
            ],
        },
    },
]

# Database: PostgreSQL in the team deployment, a SQLite file otherwise.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'grokweb.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the generation checkpoint while pages read.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too: in-memory SQLite's shared cache fails ("table is locked")
    # instead of waiting when a title is written in a worker thread mid-stream.
    # TEST_SQLITE_NAME lets several test runs share a checkout without sharing a file.
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_SQLITE_NAME", default=str(VAR_DIR / "test.sqlite3"))}
# Persistent connections for both engines: every database_sync_to_async hop runs
# close_old_connections, and reconnecting (plus SQLite's PRAGMAs) per hop cost
# milliseconds on every streamed reply.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first (login throttling), then ours: inactive (pending/disabled) users still
# resolve from their session, so pages, the API and the websocket can say why they are refused.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.AccountBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Sign-up (accounts.signup): closed (invite only), approval or open; admins override it
# on the People page. An optional comma-separated e-mail domain allow-list.
SIGNUP_MODE = env.str("SIGNUP_MODE", default="closed")
SIGNUP_DOMAINS = env.list("SIGNUP_DOMAINS", default=[])
INVITE_DAYS = env.int("INVITE_DAYS", default=7)

# E-mail (password reset): the console by default, SMTP etc. from EMAIL_URL
# (e.g. smtp+tls://user:password@smtp.example.com:587).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Grokweb <grokweb@localhost>")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The browser tests collect into their own STATIC_ROOT (not wiping this checkout's while other tests read it).
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cookies and transport security when served for real.
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG and env.bool("HTTPS", default=False))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"  # the page's JS reads the CSRF cookie, so it is not HttpOnly
if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    if env.bool("HTTPS", default=False):
        # Served over HTTPS (docs/operations.md, Deployment): browsers keep to it for a year,
        # plain HTTP is redirected, and `manage.py check --deploy` has nothing to add.
        SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
        SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
        SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
        SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
        # The TLS-terminating proxy says the browser used HTTPS (Caddy does; nginx:
        # proxy_set_header X-Forwarded-Proto $scheme). Health checks from inside stay plain.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
X_FRAME_OPTIONS = "DENY"

# Redis: channel layer and Celery broker in the team deployment.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # socket_timeout keeps idle sockets alive past redis-py's defaults.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_keepalive": True}],
                "capacity": 5000,
                "expiry": 60,
            },
        }
    }
    # Bounded socket waits: the Team API reads its cache versions inside the event loop (teamapi.grants,
    # gateways.plans), so a Redis that stalls must cost a call an error after a second, not freeze the
    # process's every stream. A restarted Redis is reconnected to on the next command.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: a Redis broker when configured, otherwise tasks run in-process
# (chat.tasks dispatches them to a worker thread so the event loop never blocks).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE: dict = {}
# Usage rollups (usage.rollups): every few minutes, only the days new ledger rows touched.
CELERY_BEAT_SCHEDULE["usage-rollups"] = {
    "task": "usage.tasks.refresh_rollups",
    "schedule": env.float("USAGE_ROLLUP_INTERVAL_S", default=300.0),
}
# Model discovery (gateways.tasks): each enabled provider's GET /models, mapped to the catalog.
CELERY_BEAT_SCHEDULE["gateways-discover-models"] = {
    "task": "gateways.tasks.discover_models",
    "schedule": env.float("MODEL_DISCOVERY_INTERVAL_S", default=6 * 3600.0),
}
# Team API calls hold a reservation in their web process's name: free those of processes that died.
CELERY_BEAT_SCHEDULE["accounts-release-orphans"] = {
    "task": "accounts.tasks.release_orphan_reservations", "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["gateways-prune-attempts"] = {"task": "gateways.tasks.prune_attempts", "schedule": 24 * 3600.0}
# Attachments uploaded but never sent are deleted after a day (chat.uploads.prune).
CELERY_BEAT_SCHEDULE["chat-prune-attachments"] = {"task": "chat.tasks.prune_attachments", "schedule": 3600.0}
# "Test connection" calls a gateway slow above this many milliseconds.
GATEWAY_SLOW_MS = env.int("GATEWAY_SLOW_MS", default=5000)
# Circuit breaker per route (gateways.breaker): this many failures before the first token within the
# window rest the route for the cool-down (a 429's Retry-After, capped at 10 min, rests it at once).
GATEWAY_BREAKER = {
    "THRESHOLD": env.int("BREAKER_FAILURES", default=3),
    "WINDOW_S": env.float("BREAKER_WINDOW_S", default=120.0),
    "COOLDOWN_S": env.float("BREAKER_COOLDOWN_S", default=60.0),
}
# Start-up (`bootstrap`) lets the environment overwrite providers an admin changed by hand (= --env-wins).
PROVIDERS_ENV_WINS = env.bool("PROVIDERS_ENV_WINS", default=False)

# Upstream gateways (PROTOCOL.md, Configuration). Keys are read once at
# start-up into encrypted Provider rows; they are never logged.
PROVIDER_ENV = {
    "xai": ("XAI_API_KEY", "XAI_BASE_URL", "https://api.x.ai/v1"),
    "aimlapi": ("AIMLAPI_API_KEY", "AIMLAPI_BASE_URL", "https://api.aimlapi.com/v1"),
    "maxtoken": ("MAXTOKEN_API_KEY", "MAXTOKEN_BASE_URL", "https://api.maxtoken.ai/v1"),
    "crazyrouter": ("CRAZYROUTER_API_KEY", "CRAZYROUTER_BASE_URL", "https://crazyrouter.com/v1"),
}
# Only superusers may change a provider's key, base URL or kind (other staff still
# enable, disable, test and map): for teams whose staff should not handle gateway keys.
GATEWAY_KEYS_SUPERUSERS_ONLY = env.bool("GATEWAY_KEYS_SUPERUSERS_ONLY", default=False)
# The built-in emulator, used when no key is configured: mounted in our own
# ASGI app at /emulator/v1 unless EMULATOR_URL points elsewhere.
EMULATOR_URL = env.str("EMULATOR_URL", default="http://127.0.0.1:8000/emulator/v1")
EMULATOR_DELAY_SCALE = env.float("EMULATOR_DELAY_SCALE", default=1.0)
# The key the mounted emulator accepts (and start-up stores in its provider); unset:
# derived from SECRET_KEY (gateways.providers.emulator_key).
EMULATOR_API_KEY = env.str("EMULATOR_API_KEY", default="")
# Key for encrypting provider API keys at rest; derived from SECRET_KEY when unset.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

# Chat limits.
GROKWEB = {
    "MAX_FRAME_BYTES": env.int("MAX_FRAME_BYTES", default=256 * 1024),
    "MAX_MESSAGE_CHARS": env.int("MAX_MESSAGE_CHARS", default=100_000),
    "MAX_LIVE_GENERATIONS": env.int("MAX_LIVE_GENERATIONS", default=3),
    # Messages (send, regenerate, edit) one user may start per minute; groups may override.
    "MESSAGES_PER_MINUTE": env.int("MESSAGES_PER_MINUTE", default=20),
    "DELTA_INTERVAL_S": env.float("DELTA_INTERVAL_S", default=0.03),
    "CHECKPOINT_INTERVAL_S": env.float("CHECKPOINT_INTERVAL_S", default=2.0),
    # The longest a reply may wait for its first token, every route and retry together
    # (each attempt also has its provider's first_token_timeout); then it ends as `timeout`.
    "REPLY_START_DEADLINE_S": env.float("REPLY_START_DEADLINE_S", default=90.0),
    # Seconds of silence from a gateway before the tab is told "still waiting for <gateway>".
    "WAITING_NOTICE_S": env.float("WAITING_NOTICE_S", default=5.0),
    # Where a budget applies, a reply without max_tokens reserves (and is held to) this much output.
    "RESERVE_OUTPUT_TOKENS": env.int("RESERVE_OUTPUT_TOKENS", default=16_384),
    # The Team API's largest request body (images travel inside it as data: URLs).
    "API_MAX_BODY_BYTES": env.int("API_MAX_BODY_BYTES", default=20 * 1024 * 1024),
}

# Attachments (chat.uploads): images and files sent with a message, stored under MEDIA_ROOT
# (never served as public media: only to their owner, and to staff through the admin).
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_PER_MESSAGE = env.int("ATTACHMENT_MAX_PER_MESSAGE", default=10)
# Images are downscaled to fit this many pixels a side (xAI reads at most 6 tiles of 448 px anyway).
ATTACHMENT_IMAGE_MAX_SIDE = env.int("ATTACHMENT_IMAGE_MAX_SIDE", default=2048)
# Larger images are refused before being decoded (a "decompression bomb" is a small file).
ATTACHMENT_IMAGE_MAX_PIXELS = env.int("ATTACHMENT_IMAGE_MAX_PIXELS", default=50_000_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
