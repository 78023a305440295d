"""The learned head's file format: a linear model on backbone features, and its JSON file.

The scorers read heads (``scoring.learned``, the quality prior); ``learning`` fits and
writes them. The file is JSON, never pickle: ``IMAGE_RANKING_LEARNED_HEAD`` is a path from
the settings, and unpickling a file from such a path would run whatever code it contains.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from image_ranking.exceptions import ImageRankingError
from image_ranking.media.files import atomic_write

HEAD_FORMAT = "image_ranking.learned_head"
HEAD_FORMAT_VERSION = 1

Target = Literal["label", "score"]


class HeadFileError(ImageRankingError):
    """A head file is missing, unreadable or not a head written by train_ranker."""


@dataclass
class Head:
    backbone: str
    backbone_settings: dict[str, Any]
    target: Target
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    calibration: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    def decision(self, features: np.ndarray) -> np.ndarray:
        """The linear model's raw output (logit, or predicted score)."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.coef.shape[0]:
            raise ValueError(
                f"Expected features of shape (n, {self.coef.shape[0]}), got {features.shape}"
            )
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Scores on 0-10."""
        raw = self.decision(features)
        if self.calibration["kind"] == "sigmoid":
            values = 10.0 / (1.0 + np.exp(-np.clip(raw, -60, 60)))
        else:
            low, high = self.calibration["low"], self.calibration["high"]
            values = 10.0 * (raw - low) / (high - low)
        return np.clip(values, 0.0, 10.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": HEAD_FORMAT,
            "format_version": HEAD_FORMAT_VERSION,
            "backbone": self.backbone,
            "backbone_settings": self.backbone_settings,
            "target": self.target,
            "calibration": self.calibration,
            "metadata": self.metadata,
            "scaler_mean": self.mean.tolist(),
            "scaler_scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
        }


def save_head(head: Head, path: Path | str) -> str:
    """Write the head atomically (temp file + ``os.replace``); return its SHA-256."""
    data = json.dumps(head.to_json(), indent=1, sort_keys=True).encode()
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


def read_head_bytes(path: Path | str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise HeadFileError(
            f"Learned head file {path} does not exist; train one with 'manage.py train_ranker' "
            "and point IMAGE_RANKING_LEARNED_HEAD at it."
        )
    except OSError as exc:
        raise HeadFileError(f"Cannot read learned head file {path}: {exc}")


def parse_head(data: bytes, source: str = "head file") -> Head:
    """Validate and build a ``Head`` from a head file's bytes."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HeadFileError(f"{source} is not a head written by train_ranker (not JSON: {exc}).")
    if not isinstance(raw, dict) or raw.get("format") != HEAD_FORMAT:
        raise HeadFileError(f"{source} is not a head written by train_ranker.")
    if raw.get("format_version") != HEAD_FORMAT_VERSION:
        raise HeadFileError(
            f"{source} has head format version {raw.get('format_version')}; this version "
            f"reads {HEAD_FORMAT_VERSION}. Retrain it with 'manage.py train_ranker'."
        )
    try:
        coef = np.asarray(raw["coef"], dtype=np.float64)
        mean = np.asarray(raw["scaler_mean"], dtype=np.float64)
        scale = np.asarray(raw["scaler_scale"], dtype=np.float64)
        intercept = float(raw["intercept"])
        calibration = dict(raw["calibration"])
        target = raw["target"]
        head = Head(
            backbone=str(raw["backbone"]),
            backbone_settings=dict(raw["backbone_settings"]),
            target=target,
            mean=mean,
            scale=scale,
            coef=coef,
            intercept=intercept,
            calibration=calibration,
            metadata=dict(raw.get("metadata") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise HeadFileError(f"{source} is damaged: {exc!r}.")
    problems = []
    if target not in ("label", "score"):
        problems.append(f"unknown target {target!r}")
    if coef.ndim != 1 or mean.shape != coef.shape or scale.shape != coef.shape:
        problems.append("coefficient and scaler sizes differ")
    if not all(np.all(np.isfinite(a)) for a in (coef, mean, scale)) or not math.isfinite(intercept):
        problems.append("non-finite numbers")
    if np.any(scale == 0):
        problems.append("zero scaler scale")
    kind = calibration.get("kind")
    if kind == "linear":
        low, high = calibration.get("low"), calibration.get("high")
        if not (isinstance(low, int | float) and isinstance(high, int | float) and high > low):
            problems.append("bad linear calibration range")
    elif kind != "sigmoid":
        problems.append(f"unknown calibration {kind!r}")
    if problems:
        raise HeadFileError(f"{source} is damaged: {'; '.join(problems)}.")
    return head


def load_head(path: Path | str) -> tuple[Head, str]:
    """The head at ``path`` and the SHA-256 of its bytes (part of the scorer's version)."""
    data = read_head_bytes(path)
    return parse_head(data, source=f"Learned head file {path}"), hashlib.sha256(data).hexdigest()


def head_version(sha256: str) -> str:
    """The ``learned`` scorer's version for a head file's SHA-256 (one source for it: the
    scorer, the head records and stored images' provenance all read this)."""
    return f"learned-{sha256[:16]}"
