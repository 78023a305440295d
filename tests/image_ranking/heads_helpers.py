"""A tiny colour backbone and heads on it: learned heads that score real bytes fast.

``ColourBackbone`` embeds an image as its mean red, green and blue (0-1); a head with
coefficients on those three columns prefers red or blue photos. Registered in the
backbone registry by the ``colour_backbone`` fixture, so the real ``LearnedScorer``,
embedding cache and head files are exercised without a network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import ImageStat

from image_ranking.scoring import embeddings as emb
from image_ranking.scoring import heads as fitting

NAME = "test-colour"


class ColourBackbone(emb.Backbone):
    name = NAME

    def __init__(self) -> None:
        self.calls = 0

    @property
    def settings(self) -> dict:
        return {"mean_rgb": 1}

    def embed(self, images) -> np.ndarray:
        self.calls += len(images)
        return np.array(
            [[v / 255.0 for v in ImageStat.Stat(im.convert("RGB")).mean] for im in images],
            dtype=np.float32,
        )


def colour_head(
    path: Path,
    coef: tuple[float, float, float],
    *,
    cv: float = 0.8,
    prior_cv: float = 0.7,
    leanings: dict | None = None,
    labels: int = 30,
) -> Path:
    """Write a head scoring 10 x sigmoid(coef . rgb) with a trainer-like metadata block."""
    head = fitting.Head(
        backbone=NAME,
        backbone_settings={"mean_rgb": 1},
        target="label",
        mean=np.zeros(3),
        scale=np.ones(3),
        coef=np.asarray(coef, dtype=np.float64),
        intercept=0.0,
        calibration={"kind": "sigmoid"},
        metadata={
            "created_at": "2026-12-01T10:00:00+00:00",
            "label_counts": {"bad": labels // 2, "good": labels - labels // 2},
            "pairs": 4,
            "prior": "quality-test",
            "prior_cv_concordance": prior_cv,
            "cv_concordance": cv,
            "cv_metrics": {"auc": cv, "accuracy": 0.75, "folds": 5},
            "adaptation": {"leanings": leanings or {"warm light": 0.6}},
        },
    )
    fitting.save_head(head, path)
    return path


@pytest.fixture
def colour_backbone(monkeypatch):
    backbone = ColourBackbone()
    monkeypatch.setitem(emb.BACKBONES, NAME, lambda: backbone)
    monkeypatch.setitem(emb._instances, NAME, backbone)
    return backbone
