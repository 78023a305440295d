from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from image_ranking.learning import fitting
from image_ranking.scoring import embeddings as emb
from image_ranking.scoring import heads
from image_ranking.scoring.learned import LearnedScorer
from tests.conftest import shared_path
from tests.image_ranking.learned_helpers import blurred_image, jpeg_bytes, sharp_image


@pytest.fixture(scope="module")
def backbone():
    return emb.get_backbone("efficientnet-lite0")


@pytest.fixture(scope="module")
def head_file(backbone, tmp_path_factory):
    """A label head trained on 8 sharp and 8 blurred generated photos."""
    images = [sharp_image(i) for i in range(8)] + [blurred_image(100 + i) for i in range(8)]
    labels = ["good"] * 8 + ["bad"] * 8
    head = fitting.fit_head(
        backbone.embed(images), labels, "label", backbone.name, backbone.settings
    )
    path = tmp_path_factory.mktemp("heads") / "head.json"
    heads.save_head(head, path)
    return path


@pytest.fixture
def scorer(head_file, settings):
    settings.IMAGE_RANKING_LEARNED_HEAD = str(head_file)
    return LearnedScorer()


def test_scores_unseen_sharp_photos_above_blurred_on_0_to_10(scorer):
    sharp = scorer._score_batch([sharp_image(50 + i) for i in range(4)])
    blurred = scorer._score_batch([blurred_image(60 + i) for i in range(4)])
    assert all(0.0 <= s <= 10.0 for s in sharp + blurred)
    assert min(sharp) > max(blurred)
    assert min(sharp) > 5 > max(blurred)


def test_score_images_from_bytes_with_a_bad_image(scorer):
    scores = scorer.score_images(
        [jpeg_bytes(sharp_image(70)), b"garbage", jpeg_bytes(blurred_image(71))]
    )
    assert scores[1] is None
    assert scores[0] > 5 > scores[2]


def test_version_is_tied_to_the_head_file_bytes(scorer, head_file, tmp_path, settings):
    sha = heads.load_head(head_file)[1]
    assert scorer.version == f"learned-{sha[:16]}"
    head, _ = heads.load_head(head_file)
    head.intercept += 1.0
    other = tmp_path / "other.json"
    heads.save_head(head, other)
    settings.IMAGE_RANKING_LEARNED_HEAD = str(other)
    assert LearnedScorer().version != scorer.version
    assert LearnedScorer(head_path=str(head_file)).version == scorer.version


def test_registry_builds_the_learned_scorer(head_file, settings):
    from image_ranking.scoring import available_scorers, get_scorer

    settings.IMAGE_RANKING_LEARNED_HEAD = str(head_file)
    assert "learned" in available_scorers()
    assert isinstance(get_scorer("learned"), LearnedScorer)


@pytest.mark.django_db
def test_unset_head_setting_says_what_to_do(settings):
    settings.IMAGE_RANKING_LEARNED_HEAD = None
    with pytest.raises(heads.HeadFileError, match="no head is active and IMAGE_RANKING"):
        LearnedScorer().ensure_loaded()


def test_missing_head_file(settings, tmp_path):
    settings.IMAGE_RANKING_LEARNED_HEAD = str(tmp_path / "gone.json")
    with pytest.raises(heads.HeadFileError, match="does not exist.*train_ranker"):
        LearnedScorer().ensure_loaded()


def test_pickle_in_place_of_a_head_is_refused(settings, tmp_path):
    import pickle

    path = tmp_path / "evil.json"
    path.write_bytes(pickle.dumps({"coef": [1.0]}))
    settings.IMAGE_RANKING_LEARNED_HEAD = str(path)
    with pytest.raises(heads.HeadFileError, match="not a head written by train_ranker"):
        LearnedScorer().ensure_loaded()


def test_head_from_other_preprocessing_must_be_retrained(head_file, settings, tmp_path):
    head, _ = heads.load_head(head_file)
    head.backbone_settings = {**head.backbone_settings, "max_side": 224}
    path = tmp_path / "old.json"
    heads.save_head(head, path)
    settings.IMAGE_RANKING_LEARNED_HEAD = str(path)
    with pytest.raises(emb.BackboneUnavailable, match="retrain"):
        LearnedScorer().ensure_loaded()


# ------------------------------------------------------------------ real photos (CLIVE)


@pytest.mark.shared
def test_learns_human_quality_ratings_on_real_photos(tmp_path, settings):
    """20 best- and 20 worst-rated CLIVE photos: train on 32, rank the 8 held out."""
    root = shared_path("data", "clive")
    with (root / "labels.csv").open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: float(r["mos"]))
    extremes = rows[:20] + rows[-20:]
    held_out = extremes[:4] + extremes[-4:]
    train = [r for r in extremes if r not in held_out]
    csv_path = tmp_path / "train.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "mos", "mos_std"])
        writer.writeheader()
        writer.writerows(train)
    output = tmp_path / "clive.json"
    call_command(
        "train_ranker",
        "--from-csv", str(csv_path),
        "--images", str(root / "images"),
        "--score-column", "mos",
        "--output", str(output),
        stdout=io.StringIO(),
    )  # fmt: skip
    meta = json.loads(output.read_text())["metadata"]
    assert meta["cv_metrics"]["spearman"] > 0.5
    settings.IMAGE_RANKING_LEARNED_HEAD = str(output)
    scores = LearnedScorer().score_images(
        [(root / "images" / r["file"]).read_bytes() for r in held_out]
    )
    assert np.mean(scores[4:]) > np.mean(scores[:4]) + 1


# -------------------------------------------------------------------- quality scorer


def test_quality_scorer_works_with_no_setup_and_no_labels(settings):
    from image_ranking import scoring

    settings.IMAGE_RANKING_LEARNED_HEAD = None  # nothing configured, nothing trained
    scorer = scoring.get_scorer("quality")
    assert "quality" in scoring.available_scorers()
    assert scorer.version.startswith("quality-") and len(scorer.version) == len("quality-") + 16
    sharp = scorer._score_batch([sharp_image(80 + i, size=(320, 240)) for i in range(3)])
    blurred = scorer._score_batch([blurred_image(90 + i, size=(320, 240)) for i in range(3)])
    assert all(0.0 <= s <= 10.0 for s in sharp + blurred)
    assert min(sharp) > max(blurred)
