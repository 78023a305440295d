"""LAION aesthetic predictors: an open_clip image encoder plus a small head, 0-10 scores.

- ``laion-vit-l-14`` (default, best): ViT-L-14 ``openai`` + the improved aesthetic
  predictor MLP ``sac+logos+ava1-l14-linearMSE.pth`` (Apache-2.0,
  christophschuhmann/improved-aesthetic-predictor).
- ``laion-vit-b-32`` (fast): ViT-B-32 ``openai`` + LAION's linear head
  ``sa_0_4_vit_b_32_linear.pth`` (MIT, LAION-AI/aesthetic-predictor).

Both heads were trained on **L2-normalised** CLIP image embeddings; feeding raw
embeddings is the classic mistake that yields scores above 10, so ``AestheticHead``
normalises itself and callers cannot forget it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from image_ranking.conf import conf
from image_ranking.exceptions import ModelWeightsMissingError
from image_ranking.scoring.base import Scorer
from image_ranking.scoring.clip import ClipEncoder
from image_ranking.scoring.weights import HeadSpec, head_path

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image

HEADS: dict[str, HeadSpec] = {
    "sac+logos+ava1-l14-linearMSE": HeadSpec(
        filename="sac+logos+ava1-l14-linearMSE.pth",
        url="https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/"
        "sac+logos+ava1-l14-linearMSE.pth",
        sha256="21dd590f3ccdc646f0d53120778b296013b096a035a2718c9cb0d511bff0f1e0",
        kind="mlp",
        embed_dim=768,
        licence="Apache-2.0",
    ),
    "sa_0_4_vit_l_14_linear": HeadSpec(
        filename="sa_0_4_vit_l_14_linear.pth",
        url="https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_l_14_linear.pth",
        sha256="2cd4e60f4f24ae3bcd57b847b13c1f3ba27edc28cc1a7f9ce74ee9f421243cba",
        kind="linear",
        embed_dim=768,
        licence="MIT",
    ),
    "sa_0_4_vit_b_32_linear": HeadSpec(
        filename="sa_0_4_vit_b_32_linear.pth",
        url="https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_b_32_linear.pth",
        sha256="c7b14cead230694acc7b9447974d3cad78003c72da032e402a303b6c2429e85f",
        kind="linear",
        embed_dim=512,
        licence="MIT",
    ),
}


def build_head_module(spec: HeadSpec) -> Any:
    """The torch module a head file's state dict loads into."""
    from torch import nn

    if spec.kind == "linear":
        return nn.Linear(spec.embed_dim, 1)
    if spec.kind == "mlp":
        # The improved predictor's MLP; dropout is inert in eval mode but keeps the indices
        # ("layers.0", "layers.2"...) of the published state dict.
        return nn.Sequential(
            nn.Linear(spec.embed_dim, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )
    raise ValueError(f"Unknown head kind {spec.kind!r}")


class AestheticHead:
    """A LAION head that L2-normalises embeddings itself and returns raw predictions."""

    def __init__(self, spec: HeadSpec, path: Path | str) -> None:
        import torch

        self.spec = spec
        self.module = build_head_module(spec)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if spec.kind == "mlp":
                state = {key.removeprefix("layers."): value for key, value in state.items()}
            self.module.load_state_dict(state)
        except Exception as exc:  # a pickle, a truncated file, another architecture
            raise ModelWeightsMissingError(
                f"{path} is not a loadable {spec.filename} head ({exc}). Delete it and run "
                "`python manage.py download_models`."
            ) from None
        self.module.eval()

    def predict(self, embeddings: Any) -> np.ndarray:
        """Raw head outputs for ``(n, dim)`` embeddings (normalised here)."""
        import torch

        x = torch.as_tensor(embeddings, dtype=torch.float32)
        x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        with torch.inference_mode():
            return self.module(x).squeeze(-1).numpy()


class LaionScorer(Scorer):
    """An open_clip backbone plus a LAION head; subclasses only name the parts."""

    model_name: str = ""
    pretrained: str | None = "openai"
    head_name: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.encoder: ClipEncoder | None = None
        self.head: AestheticHead | None = None

    @property
    def head_spec(self) -> HeadSpec:
        return HEADS[self.head_name]

    @property
    def version(self) -> str:
        # Scores cached under another backbone, head or precision are never reused.
        version = f"{self.model_name}-{self.pretrained}+{self.head_spec.sha256[:12]}"
        return version if conf.PRECISION == "fp32" else f"{version}-{conf.PRECISION}"

    def _load(self) -> None:
        # Head first: it is small, so a missing file is reported before a long model load.
        head = AestheticHead(self.head_spec, head_path(self.head_spec))
        encoder = ClipEncoder(
            self.model_name, self.pretrained, device=conf.DEVICE, precision=conf.PRECISION
        )
        encoder.load()
        self.head, self.encoder = head, encoder

    def _score_batch(self, images: list[Image]) -> list[float]:
        assert self.encoder is not None and self.head is not None
        return [float(v) for v in self.head.predict(self.encoder.embed(images))]


class LaionViTL14Scorer(LaionScorer):
    name = "laion-vit-l-14"
    model_name = "ViT-L-14"
    head_name = "sac+logos+ava1-l14-linearMSE"


class LaionViTB32Scorer(LaionScorer):
    name = "laion-vit-b-32"
    model_name = "ViT-B-32"
    head_name = "sa_0_4_vit_b_32_linear"
