"""Scorer backend ``quality``: the quality prior bundled with the app, no setup needed.

The network and head in ``image_ranking/priors/`` (EfficientNet-Lite0 fine-tuned on the
LIVE photos' mean opinion scores, beside the ImageNet Lite2, and a ridge head on both)
score technical photo quality on 0-10 on a fresh machine: no download, no labels.
Curators' labels adapt it with ``manage.py train_ranker`` (then use the ``learned``
scorer with the head that wrote).
"""

from __future__ import annotations

from image_ranking.priors import PRIOR_HEAD
from image_ranking.scoring.learned import LearnedScorer


class QualityScorer(LearnedScorer):
    name = "quality"

    def __init__(self) -> None:
        super().__init__(head_path=str(PRIOR_HEAD))

    @property
    def version(self) -> str:
        # The learned scorer's version with this name: the head's SHA-256 still decides.
        return "quality-" + super().version.removeprefix("learned-")
