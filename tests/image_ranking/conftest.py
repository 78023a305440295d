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


@pytest.fixture
def commit_immediately(django_capture_on_commit_callbacks):
    """Run on_commit callbacks (old files deleted after a change) inside the test transaction."""
    with django_capture_on_commit_callbacks(execute=True):
        yield
