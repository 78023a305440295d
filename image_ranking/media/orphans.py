"""Sweep image files that no row references (orphans) from the app's storage folder.

A process killed between writing a POI's new image and committing the row leaves a
file nothing points at (``storage.store_poi_image`` cleans up every failure it lives
through, but not a SIGKILL or a power cut). ``sweep_orphans`` deletes the files under
``IMAGE_RANKING_ORPHAN_SWEEP_DIR`` that no POI's image field and no ``SelectedImage``
names, once they are older than ``IMAGE_RANKING_ORPHAN_MIN_AGE``: a file that is younger
may belong to a store that is about to commit. ``IMAGE_RANKING_FALLBACK_DIR`` (source
images, referenced by no row) is never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from image_ranking import get_poi_model
from image_ranking.conf import conf
from image_ranking.models import SelectedImage
from image_ranking.poi import get_poi_adapter
from image_ranking.media.storage import delete_quietly

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    folder: str
    dry_run: bool = False
    deleted: list[str] = field(default_factory=list)  # or, in a dry run, would be
    failed: list[str] = field(default_factory=list)
    referenced: int = 0
    too_young: int = 0
    bytes_freed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "dry_run": self.dry_run,
            "deleted": len(self.deleted),
            "failed": len(self.failed),
            "referenced": self.referenced,
            "too_young": self.too_young,
            "bytes_freed": self.bytes_freed,
        }


def image_storage() -> Any:
    """The storage of the host POI model's image field."""
    model = get_poi_model()
    return model._meta.get_field(get_poi_adapter().image_field).storage


def sweep_orphans(
    *,
    min_age: float | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    storage: Any = None,
) -> SweepReport:
    """Delete unreferenced files older than ``min_age`` seconds under the sweep folder."""
    folder = conf.ORPHAN_SWEEP_DIR.strip("/")
    report = SweepReport(folder=folder, dry_run=dry_run)
    if not folder:
        return report
    storage = storage if storage is not None else image_storage()
    min_age = conf.ORPHAN_MIN_AGE if min_age is None else min_age
    cutoff = (now or timezone.now()) - timedelta(seconds=min_age)
    # Files are listed before references are read: a file committed in between is seen
    # as referenced; one written after the listing is not considered at all.
    names = list(walk(storage, folder, exempt=conf.FALLBACK_DIR.strip("/")))
    referenced = referenced_names(folder)
    for name in names:
        if name in referenced:
            report.referenced += 1
            continue
        try:
            modified = storage.get_modified_time(name)
            size = storage.size(name)
        except FileNotFoundError:
            continue  # deleted meanwhile (e.g. an old image replaced after a commit)
        if modified > cutoff:
            report.too_young += 1
            continue
        if not dry_run and not delete_quietly(storage, name):
            report.failed.append(name)
            continue
        report.deleted.append(name)
        report.bytes_freed += size
    if report.deleted and not dry_run:
        logger.info("Swept %d orphan image file(s) from %s/", len(report.deleted), folder)
    return report


def walk(storage: Any, folder: str, exempt: str = "") -> Iterator[str]:
    """Every file name under ``folder`` (storage-relative), skipping the ``exempt`` tree."""
    try:
        directories, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for directory in directories:
        path = f"{folder}/{directory}"
        if exempt and (path == exempt or path.startswith(exempt + "/")):
            continue
        yield from walk(storage, path, exempt)


def referenced_names(folder: str) -> set[str]:
    """Names under ``folder`` that a POI's image field or a ``SelectedImage`` points at."""
    image_field = get_poi_adapter().image_field
    pois = get_poi_model()._default_manager.filter(**{f"{image_field}__startswith": folder})
    names = set(pois.values_list(image_field, flat=True))
    selected = SelectedImage.objects.filter(file_name__startswith=folder)
    names.update(selected.values_list("file_name", flat=True))
    return names
