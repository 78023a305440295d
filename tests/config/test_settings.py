"""The project's settings as an operator starts them: real ``manage.py`` processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# The production variables the README documents.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-for-tests-" + "x7Qp2" * 10,
    "ALLOWED_HOSTS": "guide.example",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "IMAGE_RANKING_USER_AGENT": "CityGuideImages/1.0 (https://guide.example; ops@guide.example)",
}


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "CSP_", "IMAGE_RANKING_"))
        and k not in {"DEBUG", "SECRET_KEY", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"}
    }
    env.update(environ)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_defaults_switch_https_on():
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_PRELOAD)"
    )
    prod = {k: v for k, v in PRODUCTION.items() if not k.startswith("SECURE_")}
    assert manage("shell", "--no-imports", "-c", code, **prod).stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "False",
    ]
    # Each switch can be turned off, e.g. a plain-HTTP intranet host.
    off = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        **prod,
        SECURE_SSL_REDIRECT="no",
        SECURE_HSTS_SECONDS="0",
    )
    assert off.stdout.split()[:2] == ["False", "0"]


@pytest.mark.parametrize("secret", [None, "", "django-insecure-local-development-only-change-me"])
def test_production_refuses_a_missing_or_development_secret_key(secret):
    environ = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    if secret is not None:
        environ["SECRET_KEY"] = secret
    result = manage("check", **environ)
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: SECRET_KEY must be set in the environment when DEBUG is false"
        in (result.stderr)
    )


def test_development_runs_without_a_secret_key():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_bad_boolean_names_the_variable():
    result = manage("check", **PRODUCTION, SECURE_SSL_REDIRECT="maybe")
    assert result.returncode != 0
    assert (
        "environment variable SECURE_SSL_REDIRECT: expected true/false, got 'maybe'"
        in result.stderr
    )
