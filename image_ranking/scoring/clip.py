"""open_clip image encoders, loaded once per process and shared.

open_clip caches weights on disk only; every ``create_model_and_transforms`` call builds
the model again (seconds for ViT-L-14), so loaded models are kept here, keyed by model,
weights, device and precision. Used by the LAION scorers and the learned ranker's CLIP
backbones.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from image_ranking.conf import conf
from image_ranking.scoring.runtime import torch_threads

if TYPE_CHECKING:
    from PIL.Image import Image

_models: dict[tuple[str, str | None, str, str], tuple[Any, Any]] = {}
_models_lock = threading.RLock()  # int8 builds on the cached fp32 model


def load_clip(
    model_name: str,
    pretrained: str | None,
    *,
    device: str | None = None,
    precision: str | None = None,
) -> tuple[Any, Any]:
    """``(model, preprocess)`` in eval mode; ``pretrained=None`` builds random weights (tests).

    ``precision`` is open_clip's ("fp32", "bf16"...) or "int8": fp32 weights with the
    linear layers dynamically quantised (CPU only).
    """
    device = device or conf.DEVICE
    precision = precision or conf.PRECISION
    key = (model_name, pretrained, device, precision)
    with _models_lock:
        if key in _models:
            return _models[key]
        if precision == "int8":
            # Quantise a copy of the fp32 model (the same weights, even random test ones).
            import copy

            model, preprocess = load_clip(model_name, pretrained, device=device, precision="fp32")
            _models[key] = (_quantise(copy.deepcopy(model)), preprocess)
            return _models[key]
        import open_clip

        from image_ranking.scoring.weights import backbone_path

        options: dict[str, Any] = {}
        checkpoint = None
        if pretrained is not None:
            checkpoint = backbone_path(model_name, pretrained)
            cfg = open_clip.get_pretrained_cfg(model_name, pretrained) or {}
            # A checkpoint given as a file loses the tag's settings: pass them explicitly.
            options = {
                "force_quick_gelu": bool(cfg.get("quick_gelu", False)),
                "image_mean": cfg.get("mean"),
                "image_std": cfg.get("std"),
                "image_interpolation": cfg.get("interpolation"),
                "image_resize_mode": cfg.get("resize_mode"),
            }
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name,
            pretrained=checkpoint,
            device=device,
            precision=precision,
            **options,
        )
        model.eval()
        _models[key] = (model, preprocess)
        return model, preprocess


def _quantise(model: Any) -> Any:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class ClipEncoder:
    """Image embeddings (not normalised) from an open_clip model; loads on first use."""

    def __init__(
        self,
        model_name: str,
        pretrained: str | None,
        *,
        device: str | None = None,
        precision: str | None = None,
    ) -> None:
        self.model_name = model_name
        self.pretrained = pretrained
        self.device = device
        self.precision = precision

    def load(self) -> tuple[Any, Any]:
        return load_clip(
            self.model_name, self.pretrained, device=self.device, precision=self.precision
        )

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        """``(n, dim)`` float32 embeddings of decoded RGB images, in one batch."""
        import torch

        model, preprocess = self.load()
        if not images:
            return np.zeros((0, 0), dtype=np.float32)
        device = next(model.parameters()).device
        with torch_threads(conf.TORCH_THREADS), torch.inference_mode():
            batch = torch.stack([preprocess(image) for image in images]).to(device)
            dtype = next(model.parameters()).dtype
            features = model.encode_image(batch.to(dtype))
        return features.float().cpu().numpy()
