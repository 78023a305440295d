"""scripts/postgres.sh: the URL it prints names a database that exists."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="PostgreSQL is not installed"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_printed_url_names_an_existing_database():
    psycopg = pytest.importorskip("psycopg", reason="needs the postgres extra")
    # Outside pytest's private tmp: initdb runs as the postgres user when we are root.
    parent = Path(tempfile.mkdtemp(prefix="image-ranking-pg-test-"))
    parent.chmod(0o755)
    data_dir = parent / "pg"
    environ = {
        **os.environ,
        "PG_TEST_DIR": str(data_dir),
        "PG_TEST_PORT": str(free_port()),
        "PG_TEST_DB": "guide_test",
    }
    script = ["bash", str(REPO_ROOT / "scripts" / "postgres.sh")]
    try:
        first = subprocess.run([*script, "start"], env=environ, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        # Idempotent: a second start prints the same URL and creates nothing twice.
        again = subprocess.run([*script, "start"], env=environ, capture_output=True, text=True)
        assert again.returncode == 0 and again.stdout == first.stdout, again.stderr
        url = first.stdout.strip().removeprefix("export DATABASE_URL=")
        assert url.endswith("/guide_test")
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("guide_test",)
    finally:
        subprocess.run([*script, "stop"], env=environ, capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)
