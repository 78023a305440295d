from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command

from tests.conftest import REPO_ROOT
from tests.image_ranking.test_orphans import files, media  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

KILLED_BETWEEN_WRITE_AND_COMMIT = """
import io, os, signal
from PIL import Image
from cities.models import City, PointOfInterest
from image_ranking.media import storage

def jpeg(color):
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="JPEG")
    return out.getvalue()

poi = PointOfInterest.objects.create(
    city=City.objects.create(name="Paris", slug="paris"), name="Louvre", category="see"
)
storage.store_poi_image(poi, jpeg((200, 10, 10)), chosen_by="ranker")
# The next store is killed after its file is written, before its row commits.
storage._commit = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
storage.store_poi_image(poi, jpeg((10, 200, 10)), chosen_by="ranker")
"""


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("cleanup_images", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_lists_and_deletes_orphans(media):  # noqa: F811
    out, _ = run("--dry-run")
    assert "cities/images/paris/9-disk-full.jpg" in out.splitlines()
    assert "Would delete 3 orphan file(s)" in out and "1 too young" in out
    assert "cities/images/paris/9-disk-full.jpg" in files(media)
    out, _ = run()
    assert "Deleted 3 orphan file(s)" in out
    assert "cities/images/paris/9-disk-full.jpg" not in files(media)


def test_failures_and_bad_options_exit_non_zero(media, monkeypatch, settings):  # noqa: F811
    with pytest.raises(CommandError, match="--min-age must not be negative"):
        run("--min-age", "-1")

    def refuse(self, name):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(FileSystemStorage, "delete", refuse)
    with pytest.raises(CommandError, match="Could not delete 3: cities/images/"):
        run()
    settings.IMAGE_RANKING_ORPHAN_SWEEP_DIR = ""
    with pytest.raises(CommandError, match="ORPHAN_SWEEP_DIR is empty"):
        run()


def test_a_store_killed_between_write_and_commit_leaves_nothing_after_the_sweep(tmp_path):
    media_root = tmp_path / "media"
    environ = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(media_root),
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    assert manage("migrate", "-v0").returncode == 0
    killed = manage("shell", "--no-imports", "-c", KILLED_BETWEEN_WRITE_AND_COMMIT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    on_disk = files(media_root)
    assert len(on_disk) == 2  # the stored image and the orphan of the killed store

    # Right after the kill the orphan is too young to judge (it might be about to commit).
    assert "kept 1 referenced, 1 too young" in manage("cleanup_images").stdout
    swept = manage("cleanup_images", "--min-age", "0")
    assert swept.returncode == 0, swept.stderr
    referenced = manage(
        "shell", "--no-imports", "-c",
        "from cities.models import PointOfInterest as P; print(P.objects.get().image_file.name)",
    ).stdout.strip()  # fmt: skip
    assert files(media_root) == {referenced}
    assert swept.stdout.splitlines()[0] in on_disk - {referenced}
    assert Path(media_root / referenced).stat().st_size > 0
