"""Settings for the city-guide project that hosts image_ranking.

Everything an operator changes comes from the environment, with safe local defaults:
DEBUG, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, MEDIA_ROOT, the HTTPS switches (SECURE_*,
*_COOKIE_SECURE, on by default when DEBUG is false) and every IMAGE_RANKING_* setting
(same name; lists comma-separated).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django

from config.env import app_overrides, env, unknown_names
from config.security import content_security_policy, secret_key
from image_ranking.conf import PREFIX as _APP_PREFIX
from image_ranking.conf import declared_names

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return env(name, "bool", default)


def env_list(name: str, default: list[str]) -> list[str]:
    return env(name, "list", default)


DEBUG = env_bool("DEBUG", True)
# Required when DEBUG is false (ImproperlyConfigured otherwise); a development key if not.
SECRET_KEY = secret_key(env("SECRET_KEY", "str", ""), DEBUG)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "config",
    "cities",
    "image_ranking",
]
if django.VERSION < (6, 0):
    # Django 6 has {% partialdef %} built in; before it, the package it came from.
    INSTALLED_APPS.append("template_partials")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"

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
            "builtins": (
                ["template_partials.templatetags.partials"] if django.VERSION < (6, 0) else []
            ),
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (batch command, Prefect workers, web) share the database and
    # its rate-limit bucket: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

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
# The project's own static folder is optional (apps ship theirs).
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
# Let Django serve MEDIA_ROOT when DEBUG is off (single host, no web server alias).
SERVE_MEDIA = env_bool("SERVE_MEDIA", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        # A command prints its own progress and summary; their log records are for other
        # handlers (Prefect's run log), not for a second copy on the console.
        "not_command_echo": {
            "()": "django.utils.log.CallbackFilter",
            "callback": lambda record: not record.name.startswith("image_ranking.commands"),
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["not_command_echo"],
        }
    },
    "loggers": {
        "image_ranking": {
            "handlers": ["console"],
            "level": os.environ.get("LOG_LEVEL", "INFO"),
            "propagate": True,
        },
    },
}

# Defaults for image_ranking live in image_ranking/conf.py; the environment overrides them.
IMAGE_RANKING_POI_MODEL = "cities.PointOfInterest"
IMAGE_RANKING_VALIDATION_MODEL = "cities.Validation"
_IMAGE_RANKING_KINDS = {name: s.kind for name, s in declared_names().items()}
globals().update(app_overrides(_APP_PREFIX, _IMAGE_RANKING_KINDS))
# HTTPS in production: on by default when DEBUG is false, each switchable (README).
# Behind a proxy that terminates TLS, set USE_X_FORWARDED_PROTO=true or the SSL
# redirect loops.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS", "int", 0 if DEBUG else 31536000)
# Both bind every subdomain (preload for good): an operator's explicit choice.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# Scripts and styles from this site only (htmx is a static file); images also from the
# download hosts, whose thumbnails the review page shows (config/security.py).
CONTENT_SECURITY_POLICY = content_security_policy(
    globals().get("IMAGE_RANKING_DOWNLOAD_HOSTS", declared_names()["DOWNLOAD_HOSTS"].default),
    media_url=MEDIA_URL,
    static_url=STATIC_URL,
    extra_img=env_list("CSP_IMG_SRC", []),
)
if env_bool("CSP_REPORT_ONLY", False):
    # Trying the policy on a live site first: violations are reported, nothing blocked.
    CONTENT_SECURITY_POLICY_REPORT_ONLY = CONTENT_SECURITY_POLICY
    CONTENT_SECURITY_POLICY = None

# Reported by config.checks (image_ranking.W002): an IMAGE_RANKING_* variable that is no setting.
UNKNOWN_ENV_SETTINGS = unknown_names(_APP_PREFIX, set(_IMAGE_RANKING_KINDS))
