"""The optional CLIP text check: its decision rule, the real text tower of the tiny
open_clip model, and the setting that turns it on in the score stage."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from image_ranking.drops import Drop, sentence
from image_ranking.pipeline import clip_check
from tests.image_ranking.ranking_helpers import BrightnessScorer


def test_prompts_name_the_place_first():
    assert clip_check.prompts("Clock Tower", "Graz")[0] == "a photo of Clock Tower in Graz"
    assert clip_check.prompts("Clock Tower", "")[0] == "a photo of Clock Tower"


def test_only_a_clear_not_a_photo_majority_drops_a_file():
    labels = clip_check.prompts("X", "Y")
    shares = np.array(
        [
            [0.9, 0.02, 0.02, 0.02, 0.02, 0.02],  # a photo
            [0.1, 0.05, 0.8, 0.02, 0.02, 0.01],  # a floor plan
            [0.3, 0.35, 0.1, 0.1, 0.1, 0.05],  # a map, but not clearly
        ]
    )
    reasons = clip_check.reasons_from_shares(shares, labels)
    assert reasons[0] is None and reasons[2] is None
    assert sentence(Drop.CLIP_NOT_PHOTO, reasons[1]) == (
        "not a photo (CLIP): looks like a floor plan (0.80)"
    )


def test_scorers_without_a_text_tower_are_skipped():
    assert clip_check.text_encoder(BrightnessScorer()) is None


def test_text_tower_of_a_real_clip_model_gives_one_answer_per_image(tiny_clip, monkeypatch):
    tiny_clip.ensure_loaded()
    encoder = clip_check.text_encoder(tiny_clip)
    assert encoder is not None
    seen = {}
    original = clip_check.reasons_from_shares

    def spy(shares, labels):
        seen["shares"] = shares
        return original(shares, labels)

    monkeypatch.setattr(clip_check, "reasons_from_shares", spy)
    images = [Image.new("RGB", (64, 48), c) for c in ("white", "navy")]
    reasons = clip_check.check_images(encoder, images, "Clock Tower", "Graz")
    assert len(reasons) == 2 and all(r is None or isinstance(r, dict) for r in reasons)
    assert seen["shares"].shape == (2, 6)
    assert np.allclose(seen["shares"].sum(axis=1), 1.0)


@pytest.mark.django_db
def test_score_stage_drops_what_the_check_flags(tiny_clip, settings, monkeypatch):
    from image_ranking.pipeline.score import ThumbnailScorer

    settings.IMAGE_RANKING_RELEVANCE_CLIP_CHECK = True
    monkeypatch.setattr(
        clip_check, "reasons_from_shares", lambda shares, labels: [{"label": "a map", "share": 0.9}]
    )
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 60)).save(out, format="JPEG")

    class Client:
        def download_image(self, url, max_bytes=None):
            return out.getvalue()

    from image_ranking.models import ImageCandidate

    cand = ImageCandidate(title="File:A.jpg", sha1="a", thumbnail_url="http://127.0.0.1/a.jpg")
    stage = ThumbnailScorer(lambda: Client(), lambda: tiny_clip, dry_run=True)
    assert stage.score([cand], place=("Clock Tower", "Graz")) == 0
    assert cand.relevance == "not_a_photo" and cand.score is None
    assert cand.filtered_reason == "not a photo (CLIP): looks like a map (0.90)"
