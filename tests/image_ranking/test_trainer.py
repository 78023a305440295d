from __future__ import annotations

import numpy as np
import pytest

from image_ranking.learning import examples as training_data
from image_ranking.learning import fitting, trainer
from image_ranking.priors import PRIOR_BACKBONE
from image_ranking.scoring import embeddings as emb
from image_ranking.scoring import heads
from tests.image_ranking.learned_helpers import (
    blurred_image,
    jpeg_bytes,
    sharp_image,
    write_dataset,
)


def no_fetch():
    raise AssertionError("CSV training must not download")


@pytest.fixture
def backbone():
    return emb.get_backbone("efficientnet-lite0")


@pytest.fixture
def csv_set(tmp_path):
    folder = tmp_path / "photos"
    return training_data.read_csv(write_dataset(folder), folder)


def test_labels_adapt_the_bundled_prior_and_the_report_compares_them(csv_set, tmp_path):
    said = []
    options = trainer.TrainingOptions(output=tmp_path / "head.json")
    backbone = emb.get_backbone(PRIOR_BACKBONE)  # the bundled prior's
    report = trainer.train(
        csv_set, backbone, options, no_fetch, said.append, emb.EmbeddingCache(tmp_path / "c")
    )
    assert report.prior_name.startswith("bundled quality prior")
    assert report.head_concordance >= report.prior_concordance
    assert report.cv["auc"] >= 0.9 and report.counts == {"bad": 12, "good": 12}
    meta = heads.load_head(tmp_path / "head.json")[0].metadata
    assert meta["prior"] == report.prior_name
    assert meta["cv_concordance"] == report.head_concordance
    assert "adaptation" in meta and meta["skipped_unreadable"] == 0
    assert any(line.startswith("Encoding 24 images") for line in said)


def test_a_head_worse_than_the_prior_is_refused_unless_forced(backbone, tmp_path, monkeypatch):
    from image_ranking.learning import priors

    # Labels that follow a prior exactly: the prior orders them perfectly, and a head
    # fitted on 24 labels alone cannot (the prior's direction is random in 2152 features).
    images = [sharp_image(i) if i % 2 else blurred_image(i, radius=1 + i % 3) for i in range(24)]
    blobs = [jpeg_bytes(image) for image in images]
    cache = emb.EmbeddingCache(tmp_path / "c")
    features = np.stack(emb.embed_bytes(blobs, backbone, cache))  # as training will see them
    coef = np.random.default_rng(0).normal(size=features.shape[1])
    prior = heads.Head(
        backbone.name, backbone.settings, "score", features.mean(0), features.std(0) + 1e-6,
        coef, 0.0, {"kind": "linear", "low": -50.0, "high": 50.0},
    )  # fmt: skip
    prior_file = tmp_path / "prior.json"
    heads.save_head(prior, prior_file)
    monkeypatch.setattr(priors, "bundled_prior_path", lambda backbone=None: prior_file)
    decision = prior.decision(features)
    examples = [
        training_data.Example(
            f"{i}.jpg", "good" if d > np.median(decision) else "bad", jpeg_bytes(im)
        )
        for i, (im, d) in enumerate(zip(images, decision, strict=True))
    ]
    data = training_data.TrainingSet(examples, "label", "test")
    output = tmp_path / "head.json"

    def run(**changes):
        options = trainer.TrainingOptions(output=output, folds=3, **changes)
        return trainer.train(data, backbone, options, no_fetch, lambda _: None, cache)

    with pytest.raises(fitting.TrainingError, match="worse than the prior .*--force"):
        run(prior="none")
    assert not output.exists()
    forced = run(prior="none", force=True)
    assert forced.head_concordance < forced.prior_concordance == 1.0 and output.exists()
    adapted = run()  # adapting the prior instead keeps its perfect order
    assert adapted.head_concordance == adapted.prior_concordance == 1.0
