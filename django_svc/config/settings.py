"""Settings for the Django User API, read from the environment only.

The variable names are shared with the FastAPI and Flask services; see
`shared_contract/README.md` for their meaning.
"""

import hashlib
import hmac
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# --8<-- [start:environment]
APP_ENV = os.environ.get("APP_ENV", "development")
if APP_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured("APP_ENV must be development, production or test.")

_DEV_JWT_SECRET = "development-only-secret-change-me-0123456789"
JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "")
JWT_SECRET_KEY_IS_DEFAULT = not JWT_SECRET_KEY
if not JWT_SECRET_KEY:
    if APP_ENV == "production":
        raise ImproperlyConfigured(
            "JWT_SECRET_KEY is required when APP_ENV=production (at least 32 bytes)."
        )
    JWT_SECRET_KEY = _DEV_JWT_SECRET
elif APP_ENV == "production" and len(JWT_SECRET_KEY.encode()) < 32:
    raise ImproperlyConfigured("JWT_SECRET_KEY must be at least 32 bytes when APP_ENV=production.")

# Django's own signing (admin sessions, CSRF) has its own key. Without DJANGO_SECRET_KEY
# it is derived from JWT_SECRET_KEY, never equal to it: the variables the contract names
# are enough to start the service in production.
SECRET_KEY = (
    os.environ.get("DJANGO_SECRET_KEY")
    or hmac.new(JWT_SECRET_KEY.encode(), b"django SECRET_KEY", hashlib.sha256).hexdigest()
)
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
# The API answers on whatever host it is reached by (absolute page links use it).
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer.") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}.")
    return value


ACCESS_TOKEN_MINUTES = _int_env("ACCESS_TOKEN_MINUTES", 15)
REFRESH_TOKEN_DAYS = _int_env("REFRESH_TOKEN_DAYS", 7)
LOGIN_MAX_FAILURES = _int_env("LOGIN_MAX_FAILURES", 5)
LOGIN_FAILURE_WINDOW_SECONDS = _int_env("LOGIN_FAILURE_WINDOW_SECONDS", 60)
# Per worker process: its most PostgreSQL connections, and how long a request waits
# for a free one before it is answered 503 (see database_from_url).
DB_POOL_SIZE = _int_env("DB_POOL_SIZE", 5)
DB_POOL_TIMEOUT = _int_env("DB_POOL_TIMEOUT", 2)
CONNECT_TIMEOUT_SECONDS = 2
# django-cors-headers: only these origins get CORS headers.
CORS_ALLOWED_ORIGINS = [
    o.strip() for o in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()
]
CORS_ALLOW_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "x-request-id")
CORS_EXPOSE_HEADERS = ("X-Request-ID",)
CORS_PREFLIGHT_MAX_AGE = 600
REDIS_URL = os.environ.get("REDIS_URL", "")
# Tokens name this issuer, and only its own are accepted: services that do not
# share a database must not share both a secret and an issuer.
JWT_ISSUER = os.environ.get("JWT_ISSUER") or "user-api"
FIRST_ADMIN_EMAIL = os.environ.get("FIRST_ADMIN_EMAIL", "")
FIRST_ADMIN_PASSWORD = os.environ.get("FIRST_ADMIN_PASSWORD", "")
FORWARDED_ALLOW_IPS = os.environ.get("FORWARDED_ALLOW_IPS", "")

# Mail: Django's SMTP backend when SMTP_HOST is set, its console backend (the log)
# otherwise. Links in mails point at PUBLIC_BASE_URL.
PUBLIC_BASE_URL = (
    os.environ.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8002')}"
).rstrip("/")
EMAIL_HOST = os.environ.get("SMTP_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = _int_env("SMTP_PORT", 25)
EMAIL_HOST_USER = os.environ.get("SMTP_USERNAME", "")
EMAIL_HOST_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("SMTP_STARTTLS", "").lower() in {"1", "true", "yes"}
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("MAIL_FROM") or "no-reply@localhost"
PASSWORD_RESET_TIMEOUT = _int_env("PASSWORD_RESET_MINUTES", 30) * 60
EMAIL_VERIFICATION_HOURS = _int_env("EMAIL_VERIFICATION_HOURS", 48)
REQUIRE_VERIFIED_EMAIL = os.environ.get("REQUIRE_VERIFIED_EMAIL", "").lower() in {
    "1",
    "true",
    "yes",
}
# --8<-- [end:environment]

MAX_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

INSTALLED_APPS = [
    "config.apps.ThrottledAdminConfig",  # django.contrib.admin, its login throttled
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "corsheaders",
    "users.apps.UsersConfig",
]

# --8<-- [start:middleware]
MIDDLEWARE = [
    "config.middleware.RequestLogMiddleware",
    # django-prometheus's pair, first and last, as its documentation places them.
    "config.metrics.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.AdminReferrerPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "api.hardening.BodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.ServiceUnavailableMiddleware",
    "config.metrics.PrometheusAfterMiddleware",
]
# --8<-- [end:middleware]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
CSRF_FAILURE_VIEW = "api.errors.csrf_failure"

if APP_ENV == "production":
    # TLS ends at the proxy in front (ingress, load balancer), which says so here.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = True
    # The proxy redirects plain HTTP to HTTPS; a redirect here would also turn away the
    # plain-HTTP health probes from inside the cluster. SECURE_SSL_REDIRECT=1 turns it on.
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "") == "1"
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
    SILENCED_SYSTEM_CHECKS = [] if SECURE_SSL_REDIRECT else ["security.W008"]

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


DATABASE_URL_ERROR = "DATABASE_URL must be a sqlite:/// or postgresql:// URL."


# --8<-- [start:database]
def database_from_url(
    url: str, *, pool_size: int = DB_POOL_SIZE, pool_timeout: int = DB_POOL_TIMEOUT
) -> dict[str, Any]:
    """The plain `DATABASE_URL` shared by the three services, parsed by dj-database-url
    (sqlite:///relative.db, to the working directory, or sqlite:////absolute.db;
    postgresql://...), with this service's connection options."""
    try:
        database: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError as error:
        raise ImproperlyConfigured(DATABASE_URL_ERROR) from error
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # Several gunicorn workers write at once: WAL and a busy timeout. Reads run
        # in autocommit and never take the write lock; `transaction.atomic()`
        # blocks, where the multi-statement writes live, begin IMMEDIATE so that
        # writers queue for the lock instead of failing when a read transaction
        # would upgrade. No pool (DB_POOL_*): each thread opens its connection
        # and closes it after the request.
        database["OPTIONS"] = {
            "timeout": 5,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        return database
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(DATABASE_URL_ERROR)
    database["OPTIONS"] = {
        # A dead database must give 503 within 5 seconds, never a hang.
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        # psycopg's pool (Django 5.1+) rather than persistent connections
        # (CONN_MAX_AGE): those are one per gunicorn thread, so nothing caps
        # them per worker. The pool holds at most `max_size`; a request
        # takes one for its duration and waits up to `timeout` seconds
        # for one, which is also how long it waits on a dead database, so
        # keep it below the contract's 5-second bound.
        "pool": {
            "min_size": 1,
            "max_size": pool_size,
            "timeout": pool_timeout,
            # Stop reconnecting in the background soon (default: backing off
            # for 5 minutes): the next request tries again at once, so the
            # service recovers as soon as the database is back.
            "reconnect_timeout": CONNECT_TIMEOUT_SECONDS,
        },
    }
    # The pool checks a connection before handing it out.
    database["CONN_HEALTH_CHECKS"] = True
    return database


DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
# --8<-- [end:database]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "users.User"
PASSWORD_HASHERS = [
    "users.hashers.TestArgon2idPasswordHasher"
    if APP_ENV == "test"
    else "users.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# The API's own rules (8 to 128 characters, not only whitespace) live in the
# serializers; these apply to `createsuperuser` and the admin as well.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# The admin and Swagger UI assets are served straight from the installed apps,
# so the prepare step needs no `collectstatic`.
WHITENOISE_USE_FINDERS = True

# --8<-- [start:rest_framework]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["users.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["api.hardening.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.JSONOnlyContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_THROTTLE_CLASSES": [],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": False,
    "STRICT_JSON": True,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_DAYS),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET_KEY,
    "ISSUER": JWT_ISSUER,
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": "type",
    "JTI_CLAIM": "jti",
    "AUTH_TOKEN_CLASSES": ("users.tokens.AccessToken",),
    "CHECK_USER_IS_ACTIVE": True,
    "UPDATE_LAST_LOGIN": False,
}
# --8<-- [end:rest_framework]

SPECTACULAR_SETTINGS = {
    "TITLE": "User API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Registration, OAuth2 password login with JWT access and refresh "
    "tokens, self-service profile and admin user management.",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SECURITY": [],
    "PATH_CONVERTER_OVERRIDES": {
        "user_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "OAuth2PasswordBearer": {
                "type": "oauth2",
                "description": "Send the access token as `Authorization: Bearer <token>`.",
                "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
            }
        }
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # python-json-logger: time, level, logger, message, then the request's fields.
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{asctime}{levelname}{name}{process}{message}",
            "style": "{",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "process": "pid",
            },
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    },
    "handlers": {
        # Standard output carries only the JSON request lines; the rest goes to stderr.
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "request_stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        },
    },
    "loggers": {
        "user_api.request": {"handlers": ["request_stdout"], "level": "INFO", "propagate": False},
        # Our own line covers every request; Django's 4xx warnings would repeat it.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
