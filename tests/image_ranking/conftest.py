"""Fixtures shared by the image_ranking tests."""

from __future__ import annotations

import pytest

from image_ranking import scoring
from tests.image_ranking.ranking_helpers import BrightnessScorer


@pytest.fixture
def brightness(monkeypatch):
    """The brightness scorer in place of the configured one (predictable winners)."""
    scorer = BrightnessScorer()
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: scorer)
    return scorer
