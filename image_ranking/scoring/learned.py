"""Scorer backend ``learned``: the head trained by ``manage.py train_ranker`` on a backbone.

Which head: ``IMAGE_RANKING_LEARNED_HEAD`` when set (an override: a file, no record),
else the active ``LearnedHead`` (``manage.py heads activate``; read on each
``get_scorer()``, so activating needs no restart). The file records its backbone and that
backbone's preprocessing, which must match this code (else: retrain). The version holds
the head file's SHA-256, so scores cached from another head are never mixed in.

Embeddings are kept in the embedding cache by image content, so a new head over the
same thumbnails only runs its dot product (``learning/preview.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from image_ranking.conf import conf
from image_ranking.scoring.base import Scorer, clamp_score
from image_ranking.scoring.embeddings import get_backbone
from image_ranking.scoring.heads import HeadFileError, head_version, load_head, read_head_bytes

if TYPE_CHECKING:
    from PIL.Image import Image


def active_head_file() -> tuple[str, str] | None:
    """(version, path) of the active head, None when none is; no query when overridden."""
    if conf.LEARNED_HEAD:
        return None
    from image_ranking.models import LearnedHead

    return LearnedHead.active_file()


class LearnedScorer(Scorer):
    name = "learned"

    def __init__(self, head_path: str | None = None) -> None:
        super().__init__()
        self._head_path = head_path
        self._head: Any = None
        self._backbone: Any = None
        self._sha256: str | None = None

    @property
    def head_path(self) -> str:
        if self._head_path is None:
            # Resolved once: an instance scores with one head for its whole life.
            self._head_path = self._resolve()
        return self._head_path

    def _resolve(self) -> str:
        if conf.LEARNED_HEAD:
            return str(conf.LEARNED_HEAD)
        found = active_head_file()
        if found is None:
            raise HeadFileError(
                "IMAGE_RANKING_SCORER is 'learned' but no head is active and "
                "IMAGE_RANKING_LEARNED_HEAD is not set; train a head with "
                "'manage.py train_ranker' and activate it with 'manage.py heads activate ID'."
            )
        return found[1]

    @property
    def version(self) -> str:
        if self._sha256 is None:
            import hashlib

            # Cheap (a JSON file of a few hundred KB) and needs no torch.
            self._sha256 = hashlib.sha256(read_head_bytes(self.head_path)).hexdigest()
        return head_version(self._sha256)

    def _load(self) -> None:
        head, sha256 = load_head(self.head_path)
        backbone = get_backbone(head.backbone, head.backbone_settings)
        self._head, self._backbone, self._sha256 = head, backbone, sha256

    @property
    def head(self) -> Any:
        self.ensure_loaded()
        return self._head

    def _score_batch(self, images: list[Image]) -> list[float]:
        self.ensure_loaded()
        features = self._backbone.embed(images)
        return [float(value) for value in self._head.scores(features)]

    def score_images(self, images: Sequence[bytes | None]) -> list[float | None]:
        """As ``Scorer.score_images``, reading and filling the embedding cache by content."""
        from image_ranking.scoring import embeddings as emb

        self.ensure_loaded()
        cache = emb.EmbeddingCache()
        vectors: list[np.ndarray | None] = [None] * len(images)
        todo = []
        for index, data in enumerate(images):
            if data:
                vectors[index] = cache.get(self._backbone.key, emb.content_hash(data))
                if vectors[index] is None:
                    todo.append(index)
        if todo:
            try:
                blobs = [images[i] for i in todo]
                batch = max(1, int(conf.SCORE_BATCH_SIZE))
                found = emb.embed_bytes(blobs, self._backbone, cache, batch)
            except Exception:
                # One image the network chokes on: score one by one, uncached (base class).
                found = None
            if found is None:
                fallback = super().score_images([images[i] for i in todo])
                results = self._scores(vectors)
                for index, value in zip(todo, fallback, strict=True):
                    results[index] = value
                return results
            for index, vector in zip(todo, found, strict=True):
                vectors[index] = vector
        return self._scores(vectors)

    def _scores(self, vectors: list[np.ndarray | None]) -> list[float | None]:
        rows = [i for i, v in enumerate(vectors) if v is not None]
        results: list[float | None] = [None] * len(vectors)
        if rows:
            values = self._head.scores(np.stack([vectors[i] for i in rows]))
            for index, value in zip(rows, values, strict=True):
                results[index] = clamp_score(float(value))
        return results
