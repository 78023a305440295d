"""Scored thumbnails kept on disk, so that applying a new taste costs no request budget.

A ranking run downloads each candidate's thumbnail once, to score it. A new learned head
re-scores the same candidates (and stores its winners from the same bytes): with the
bytes kept here it needs no request at all (``learning/preview.py``). One file per
(file SHA-1, thumbnail URL), written atomically; ``IMAGE_RANKING_THUMBNAIL_CACHE`` turns
it off. Deleting the folder only costs downloads later.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from image_ranking.conf import conf
from image_ranking.media.files import atomic_write

logger = logging.getLogger(__name__)


class ThumbnailCache:
    """Thumbnail bytes by the file's SHA-1 and the thumbnail's URL (width included)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else conf.cache_dir / "thumbnails"

    @staticmethod
    def enabled() -> bool:
        return bool(conf.THUMBNAIL_CACHE)

    def _path(self, sha1: str, url: str) -> Path:
        # The SHA-1 too: a re-uploaded file keeps its thumbnail URL but not its pixels.
        key = hashlib.sha256(f"{sha1}\n{url}".encode()).hexdigest()
        return self.root / key[:2] / f"{key}.bin"

    def get(self, sha1: str, url: str) -> bytes | None:
        if not (sha1 and url and self.enabled()):
            return None
        try:
            return self._path(sha1, url).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("Ignoring unreadable cached thumbnail of %s: %s", url, exc)
            return None

    def put(self, sha1: str, url: str, data: bytes) -> None:
        if not (sha1 and url and data and self.enabled()):
            return
        try:
            atomic_write(self._path(sha1, url), data)
        except OSError as exc:  # a full disk costs a download later, never a run
            logger.warning("Could not cache the thumbnail of %s: %s", url, exc)
