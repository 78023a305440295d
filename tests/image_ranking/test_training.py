from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from image_ranking.learning import fitting
from image_ranking.scoring import heads


def synthetic(n: int = 60, dim: int = 12, seed: int = 0):
    """Features whose first column drives quality, plus noise columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dim))
    quality = 50 + 20 * X[:, 0] + rng.normal(scale=3, size=n)
    labels = ["good" if q > 50 else "bad" for q in quality]
    return X, quality, labels


def test_label_head_learns_and_scores_on_0_to_10():
    X, quality, labels = synthetic()
    head = fitting.fit_head(X, labels, "label", "bb", {"s": 1})
    scores = head.scores(X)
    assert scores.min() >= 0 and scores.max() <= 10
    assert head.calibration["kind"] == "sigmoid"
    good = np.array(labels) == "good"
    assert scores[good].mean() > 6 > 4 > scores[~good].mean()
    # A far-out input clamps instead of overflowing.
    assert head.scores(np.full((1, 12), 1e6)).tolist() in ([[10.0]], [10.0], [0.0])


def test_score_head_maps_training_range_to_0_to_10():
    X, quality, _ = synthetic()
    head = fitting.fit_head(X, quality, "score", "bb", {})
    assert head.calibration == {
        "kind": "linear",
        "low": pytest.approx(quality.min()),
        "high": pytest.approx(quality.max()),
    }
    scores = head.scores(X)
    assert scores.min() >= 0 and scores.max() <= 10
    from scipy.stats import spearmanr

    assert spearmanr(scores, quality)[0] > 0.9
    fixed = fitting.fit_head(X, quality, "score", "bb", {}, score_range=(0, 100))
    np.testing.assert_allclose(fixed.scores(X), np.clip(fixed.decision(X) / 10, 0, 10))
    with pytest.raises(fitting.TrainingError, match="high > low"):
        fitting.fit_head(X, quality, "score", "bb", {}, score_range=(5, 5))


def test_cross_validation_metrics():
    X, quality, labels = synthetic(n=80)
    label_metrics = fitting.cross_validate(X, labels, "label", folds=4)
    assert label_metrics["folds"] == 4
    assert label_metrics["accuracy"] > 0.8 and label_metrics["auc"] > 0.9
    score_metrics = fitting.cross_validate(X, quality, "score", folds=4)
    assert score_metrics["spearman"] > 0.9 and score_metrics["pearson"] > 0.9
    # Pure noise: nothing to learn, and the metrics say so.
    rng = np.random.default_rng(5)
    noise = fitting.cross_validate(rng.normal(size=(80, 12)), quality, "score", folds=4)
    assert noise["spearman"] < 0.4


def test_folds_shrink_to_the_rarer_class():
    X, _, _ = synthetic(n=24)
    labels = ["good"] * 21 + ["bad"] * 3
    assert fitting.cross_validate(X, labels, "label", folds=5)["folds"] == 3


@pytest.mark.parametrize(
    ("y", "target", "message"),
    [
        ([], "label", "No labelled images"),
        (["good"] * 30, "label", "Only one class of labels: 30 good, 0 bad. Label some bad"),
        (["bad"] * 30, "label", "Label some good"),
        (["good", "bad"] * 5, "label", "Too few labels: 10 .5 good, 5 bad.; need at least 20"),
        (["good"] * 29 + ["bad"], "label", "need at least 2 of each"),
        (["good", "meh"] * 15, "label", "found meh"),
        ([1.0] * 30, "score", "All 30 scores are equal"),
        ([1.0, 2.0] * 5, "score", "Too few scored images: 10"),
        ([1.0, float("nan")] * 15, "score", "not finite"),
    ],
)
def test_check_training_set_names_what_is_missing(y, target, message):
    with pytest.raises(fitting.TrainingError, match=message):
        fitting.check_training_set(y, target, min_examples=20)


def test_label_counts():
    assert fitting.label_counts(["good", "bad", "good"]) == {"bad": 1, "good": 2}


# -------------------------------------------------------------------------- file format


@pytest.fixture
def head():
    X, quality, _ = synthetic()
    return fitting.fit_head(X, quality, "score", "bb", {"max_side": 3}, metadata={"a": 1}), X


def test_save_and_load_round_trip(tmp_path, head):
    head, X = head
    path = tmp_path / "heads" / "h.json"
    sha = heads.save_head(head, path)
    loaded, loaded_sha = heads.load_head(path)
    assert sha == loaded_sha and len(sha) == 64
    np.testing.assert_allclose(loaded.scores(X), head.scores(X))
    assert loaded.backbone == "bb" and loaded.backbone_settings == {"max_side": 3}
    assert loaded.metadata["a"] == 1 and "alpha" in loaded.metadata["regularisation"]
    raw = json.loads(path.read_text())
    assert raw["format"] == heads.HEAD_FORMAT and raw["target"] == "score"
    assert [p.name for p in path.parent.iterdir()] == ["h.json"]  # no temp file left


def test_failed_save_keeps_the_old_head(tmp_path, head, monkeypatch):
    head, _ = head
    path = tmp_path / "h.json"
    path.write_text("old head")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        heads.save_head(head, path)
    assert path.read_text() == "old head"
    assert [p.name for p in tmp_path.iterdir()] == ["h.json"]


def test_missing_head_file_says_how_to_make_one(tmp_path):
    with pytest.raises(heads.HeadFileError, match="train_ranker"):
        heads.load_head(tmp_path / "nope.json")


def _mutated(head, **changes):
    data = head.to_json()
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: pickle.dumps({"coef": [1.0]}), "not JSON"),
        (lambda h: b'{"format": "something else"}', "not a head written by train_ranker"),
        (lambda h: _mutated(h, format_version=99), "format version 99"),
        (lambda h: _mutated(h, coef=[1.0, 2.0]), "sizes differ"),
        (lambda h: _mutated(h, intercept="NaN"), "non-finite"),
        (lambda h: _mutated(h, target="vibes"), "unknown target"),
        (lambda h: _mutated(h, calibration={"kind": "linear", "low": 5, "high": 1}), "range"),
        (lambda h: _mutated(h, calibration={"kind": "magic"}), "unknown calibration"),
        (lambda h: _mutated(h, backbone_settings=None), "damaged"),
    ],
)
def test_parse_head_rejects_foreign_or_damaged_files(head, mutate, message):
    head, _ = head
    with pytest.raises(heads.HeadFileError, match=message):
        heads.parse_head(mutate(head))


def test_decision_checks_feature_size(head):
    head, _ = head
    with pytest.raises(ValueError, match=r"\(n, 12\)"):
        head.decision(np.zeros((2, 5)))
