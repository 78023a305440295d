from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import numpy as np
import pytest

from image_ranking import priors
from image_ranking.learning import fitting
from image_ranking.learning import priors as prior_loading
from image_ranking.scoring import embeddings as emb
from image_ranking.scoring import heads, laion
from image_ranking.scoring.weights import HeadSpec


def test_bundled_prior_matches_this_backbone_and_ships_with_its_notice():
    head, _ = heads.load_head(priors.PRIOR_HEAD)
    # A preprocessing change without rebuilding the prior would score garbage.
    assert head.backbone == priors.PRIOR_BACKBONE
    assert head.backbone_settings == emb.get_backbone(priors.PRIOR_BACKBONE).settings
    assert head.target == "score" and head.metadata["cv_metrics"]["spearman"] > 0.8
    notice = priors.NOTICE.read_text()
    assert "COPYRIGHT NOTICE STARTS" in notice and "University of Texas at Austin" in notice
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    assert {"*.json", "*.txt", "*.pt"} <= set(package_data["package-data"]["*"])
    # The network is fine-tuned Apache-2.0 weights: their notice ships too.
    apache = (priors.PRIORS_DIR / "EFFICIENTNET-NOTICE.txt").read_text()
    assert "Apache License, Version 2.0" in apache and "fine-tuned" in apache
    for network in emb.LIVE_WEIGHTS:  # every shipped network is named under both notices
        assert network.name in notice and network.name in apache


def test_bundled_prior_only_serves_its_own_backbone():
    assert prior_loading.bundled_prior_path() == priors.PRIOR_HEAD
    assert prior_loading.bundled_prior_path("laion-vit-b-32") is None


def _write_head(folder: Path, module, spec_kind: str, dim: int) -> HeadSpec:
    import torch

    state = module.state_dict()
    if spec_kind == "mlp":
        state = {f"layers.{key}": value for key, value in state.items()}
    path = folder / f"{spec_kind}.pth"
    torch.save(state, path)
    return HeadSpec(
        filename=path.name,
        url="",
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        kind=spec_kind,
        embed_dim=dim,
    )


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_laion_heads_fold_into_a_linear_prior(kind, tmp_path, settings):
    import torch

    torch.manual_seed(0)
    dim = 16
    spec = HeadSpec("x", "", "", kind, dim)
    module = laion.build_head_module(spec)
    spec = _write_head(tmp_path, module, kind, dim)
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(tmp_path)
    prior = prior_loading.laion_prior("laion-vit-b-32", spec)
    assert prior is not None and prior.backbone == "laion-vit-b-32"
    x = np.random.default_rng(0).normal(size=(5, dim))
    normalised = x / np.linalg.norm(x, axis=1, keepdims=True)  # as ClipBackbone gives
    expected = laion.AestheticHead(spec, tmp_path / spec.filename).predict(x)
    assert np.allclose(prior.decision(normalised), expected, atol=1e-4)


def test_a_head_with_activations_is_not_folded():
    import torch

    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    with pytest.raises(ValueError, match="not affine"):
        prior_loading.collapse_affine(module, 4)


def test_missing_laion_weights_mean_no_prior_and_no_download(tmp_path, settings, monkeypatch):
    from image_ranking.scoring import weights

    settings.IMAGE_RANKING_WEIGHTS_DIR = str(tmp_path)
    settings.IMAGE_RANKING_CACHE_DIR = str(tmp_path / "cache")

    def no_download(spec):
        raise AssertionError("a prior must never be downloaded")

    monkeypatch.setattr(weights, "download_head", no_download)
    assert prior_loading.laion_prior("laion-vit-b-32") is None
    assert prior_loading.load_prior("laion-vit-l-14") is None
    assert prior_loading.load_prior("efficientnet-lite1") is None


def test_a_prior_file_on_another_backbone_is_refused():
    with pytest.raises(fitting.TrainingError, match="not on efficientnet-lite1"):
        prior_loading.load_prior("efficientnet-lite1", priors.PRIOR_HEAD)
    head, name = prior_loading.load_prior(priors.PRIOR_BACKBONE, priors.PRIOR_HEAD)
    assert head.backbone == priors.PRIOR_BACKBONE and name.startswith(priors.PRIOR_HEAD.name)


def test_train_ranker_adapts_the_bundled_prior_by_default():
    from image_ranking.management.commands.train_ranker import Command

    parser = Command().create_parser("manage.py", "train_ranker")
    assert parser.get_default("backbone") == priors.PRIOR_BACKBONE
    head, name = prior_loading.load_prior(parser.get_default("backbone"))
    assert name.startswith("bundled quality prior") and head.target == "score"
