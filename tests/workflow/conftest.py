"""Prefect for the workflow tests: a private home, no network, one server per session.

The environment is set before anything imports Prefect, so no test reads a user's
profile or API URL, writes to ~/.prefect, or sends analytics.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="prefect-home-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
for _name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "PREFECT_HOME": _PREFECT_HOME,
        "PREFECT_PROFILES_PATH": os.path.join(_PREFECT_HOME, "profiles.toml"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": "sqlite+aiosqlite:///"
        + os.path.join(_PREFECT_HOME, "prefect.db"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
)

pytest.importorskip("prefect", reason="the workflow needs the optional Prefect extra")


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect server (SQLite in a temp folder) for the tests that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
