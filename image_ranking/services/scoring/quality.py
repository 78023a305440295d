"""Scorer backend ``quality``: the quality prior bundled with the app, no setup needed.

The head in ``image_ranking/priors/`` (fitted on the LIVE photos' mean opinion scores, on
the offline EfficientNet-Lite0 backbone) scores technical photo quality on 0-10 on a fresh
machine: no download, no labels. Curators' labels adapt it with ``manage.py train_ranker``
(then use the ``learned`` scorer with the head that wrote).
"""

from __future__ import annotations

from image_ranking.priors import PRIOR_HEAD
from image_ranking.services.scoring.learned import LearnedScorer


class QualityScorer(LearnedScorer):
    name = "quality"

    def __init__(self) -> None:
        super().__init__(head_path=str(PRIOR_HEAD))

    @property
    def version(self) -> str:
        # The learned scorer's version with this name: the head's SHA-256 still decides.
        return "quality-" + super().version.removeprefix("learned-")
