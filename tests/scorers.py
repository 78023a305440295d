"""A tiny open_clip model registered as scorer ``tiny-clip``, for end-to-end scorer tests.

The real backbones cannot be downloaded here, and are far too slow for a test suite;
this one runs the very same code path (bytes -> decode -> open_clip preprocess ->
encode_image -> AestheticHead normalisation -> 0-10 clamp) with random weights: a
2-layer ViT on 64 px images with a 32-d embedding, built in well under a second.

Use the ``tiny_clip`` fixture: it registers the model config and the scorer, writes a
seeded linear head into a temporary ``IMAGE_RANKING_WEIGHTS_DIR`` and yields the scorer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

TINY_MODEL = "tiny-clip-test"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
SCORER_NAME = "tiny-clip"


def write_tiny_head(folder: Path, *, seed: int = 0, bias: float = 5.0) -> Path:
    import torch

    generator = torch.Generator().manual_seed(seed)
    head = torch.nn.Linear(TINY_CONFIG["embed_dim"], 1)
    with torch.no_grad():
        head.weight.copy_(torch.randn(1, TINY_CONFIG["embed_dim"], generator=generator) * 3)
        head.bias.fill_(bias)
    path = folder / "tiny-head.pth"
    torch.save(head.state_dict(), path)
    return path


def register_tiny_model(folder: Path) -> None:
    import open_clip

    config_dir = folder / "open_clip_configs"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / f"{TINY_MODEL}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(config_dir)


@pytest.fixture
def tiny_clip(tmp_path, settings):
    import torch

    from image_ranking.scoring import clear_scorers, laion, registry
    from image_ranking.scoring.weights import HeadSpec

    weights = tmp_path / "weights"
    weights.mkdir()
    head_file = write_tiny_head(weights)
    register_tiny_model(tmp_path)
    spec = HeadSpec(
        filename=head_file.name,
        url="",
        sha256=hashlib.sha256(head_file.read_bytes()).hexdigest(),
        kind="linear",
        embed_dim=TINY_CONFIG["embed_dim"],
    )

    class TinyClipScorer(laion.LaionScorer):
        name = SCORER_NAME
        model_name = TINY_MODEL
        pretrained = None  # random weights: nothing to download
        head_name = "tiny"

        @property
        def head_spec(self) -> HeadSpec:
            return spec

    settings.IMAGE_RANKING_WEIGHTS_DIR = str(weights)
    settings.IMAGE_RANKING_SCORER = SCORER_NAME
    registry.register(SCORER_NAME)(TinyClipScorer)
    torch.manual_seed(0)  # the same random backbone in every test
    clear_scorers()
    from image_ranking.scoring import get_scorer

    yield get_scorer(SCORER_NAME)
    clear_scorers()
    registry._REGISTRY.pop(SCORER_NAME, None)
