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


SQLITE_PROBE = """
import sqlite3
from django.db import connection, transaction
cursor = connection.cursor()
print(cursor.execute("PRAGMA journal_mode").fetchone()[0])
print(cursor.execute("PRAGMA busy_timeout").fetchone()[0])
other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
with transaction.atomic():
    # IMMEDIATE: the write lock is taken at BEGIN, before any write of ours.
    try:
        other.execute("BEGIN IMMEDIATE")
        print("other writer got in")
    except sqlite3.OperationalError as exc:
        print(exc)
    # WAL: a reader is never blocked by the open write transaction.
    print(other.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0)
"""


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_immediate_transactions(tmp_path):
    environ = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DEBUG": "true"}
    assert manage("migrate", "-v0", **environ).returncode == 0
    result = manage("shell", "--no-imports", "-c", SQLITE_PROBE, **environ)
    assert result.stdout.split("\n")[:4] == ["wal", "30000", "database is locked", "True"], (
        result.stderr
    )


def test_policy_can_be_tried_in_report_only_mode():
    code = (
        "from django.test import Client; r = Client(HTTP_HOST='localhost').get('/admin/login/'); "
        "print('Content-Security-Policy' in r.headers, "
        "'script-src' in r.headers.get('Content-Security-Policy-Report-Only', ''))"
    )
    assert manage("shell", "--no-imports", "-c", code, DEBUG="true").stdout.split() == [
        "True",
        "False",
    ]
    result = manage("shell", "--no-imports", "-c", code, DEBUG="true", CSP_REPORT_ONLY="true")
    assert result.stdout.split() == ["False", "True"], result.stderr
