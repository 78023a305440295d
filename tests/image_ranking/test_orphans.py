from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from PIL import Image

from cities.models import City, PointOfInterest
from image_ranking.media.orphans import sweep_orphans
from image_ranking.media.storage import store_poi_image

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def put(root: Path, name: str, data: bytes = b"x" * 10, age: float = 2 * DAY) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return name


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def media(settings) -> Path:
    root = Path(settings.MEDIA_ROOT)
    city = City.objects.create(name="Paris", slug="paris")
    poi = PointOfInterest.objects.create(city=city, name="Louvre", category="see")
    store_poi_image(poi, jpeg(), chosen_by="ranker")
    poi.refresh_from_db()
    stored = Path(poi.image_file.path)
    os.utime(stored, (time.time() - 3 * DAY,) * 2)  # old, but referenced
    put(root, "cities/images/paris/9-killed-before-commit.jpg", jpeg())
    put(root, "cities/images/paris/9-disk-full.jpg", b"")  # a 0-byte leftover
    put(root, "cities/images/lyon/deep/2-orphan.png")
    put(root, "cities/images/paris/7-being-stored.jpg", age=60)  # a store about to commit
    put(root, "cities/images/fallbacks/see.jpg")  # source images: referenced by no row
    put(root, "uploads/unrelated.jpg")  # outside the app's folder
    return root


def test_sweep_deletes_only_old_unreferenced_files_in_the_app_folder(media):
    before = files(media)
    report = sweep_orphans()
    assert sorted(report.deleted) == [
        "cities/images/lyon/deep/2-orphan.png",
        "cities/images/paris/9-disk-full.jpg",
        "cities/images/paris/9-killed-before-commit.jpg",
    ]
    assert files(media) == before - set(report.deleted)
    assert (report.referenced, report.too_young, report.failed) == (1, 1, [])
    assert report.bytes_freed == len(jpeg()) + 10
    poi = PointOfInterest.objects.get()
    assert poi.image_file.storage.exists(poi.image_file.name)


def test_dry_run_and_min_age(media):
    report = sweep_orphans(dry_run=True, min_age=30)
    assert len(report.deleted) == 4 and report.too_young == 0  # the 60 s one counts too
    assert "cities/images/paris/7-being-stored.jpg" in files(media)  # nothing deleted
    assert len(sweep_orphans(min_age=30).deleted) == 4
    assert sweep_orphans(min_age=30).deleted == []


def test_a_file_named_only_by_a_selected_image_is_kept(media):
    poi = PointOfInterest.objects.get()
    orphan = "cities/images/paris/9-killed-before-commit.jpg"
    poi.selected_image.file_name = orphan
    poi.selected_image.save()
    assert orphan not in sweep_orphans().deleted


def test_sweep_can_be_turned_off_and_survives_a_missing_folder(media, settings):
    settings.IMAGE_RANKING_ORPHAN_SWEEP_DIR = ""
    assert sweep_orphans().deleted == []
    settings.IMAGE_RANKING_ORPHAN_SWEEP_DIR = "no/such/folder"
    assert sweep_orphans().deleted == []


def test_a_file_that_cannot_be_deleted_is_reported(media, monkeypatch):
    def refuse(self, name):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(FileSystemStorage, "delete", refuse)
    report = sweep_orphans()
    assert len(report.failed) == 3 and report.deleted == []


def test_old_file_replaced_after_commit_is_not_an_error(media):
    # A file listed by the sweep and then deleted by a store's on_commit cleanup.
    storage = PointOfInterest.objects.get().image_file.storage
    real_size = storage.size

    class VanishingStorage:
        def __getattr__(self, name):
            return getattr(storage, name)

        def get_modified_time(self, name):
            raise FileNotFoundError(name)

        size = real_size

    report = sweep_orphans(storage=VanishingStorage())
    assert (report.deleted, report.failed) == ([], [])
