"""Scorer backend ``learned``: the head trained by ``manage.py train_ranker`` on a backbone.

``IMAGE_RANKING_LEARNED_HEAD`` names the head file; the file records its backbone and that
backbone's preprocessing, which must match this code (else: retrain). The version holds
the head file's SHA-256, so scores cached from another head are never mixed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from image_ranking.conf import conf
from image_ranking.scoring.base import Scorer
from image_ranking.scoring.embeddings import get_backbone
from image_ranking.scoring.heads import HeadFileError, load_head, read_head_bytes

if TYPE_CHECKING:
    from PIL.Image import Image


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
        path = self._head_path or conf.LEARNED_HEAD
        if not path:
            raise HeadFileError(
                "IMAGE_RANKING_SCORER is 'learned' but IMAGE_RANKING_LEARNED_HEAD is not set; "
                "train a head with 'manage.py train_ranker' and set it to the file it wrote."
            )
        return str(path)

    @property
    def version(self) -> str:
        if self._sha256 is None:
            import hashlib

            # Cheap (a JSON file of a few hundred KB) and needs no torch.
            self._sha256 = hashlib.sha256(read_head_bytes(self.head_path)).hexdigest()
        return f"learned-{self._sha256[:16]}"

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
