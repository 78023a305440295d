"""Fitting, cross-validating, saving and loading the learned ranker's head.

The head is a linear model on backbone embeddings: logistic regression for good/bad
labels (score = probability x 10) or ridge regression for numeric scores (score = the
prediction mapped linearly from the training scores' range onto 0-10). Features are
standardised first; the regularisation strength is chosen by internal cross-validation.

The head file is JSON, never pickle: ``IMAGE_RANKING_LEARNED_HEAD`` is a path from the
settings, and unpickling a file from such a path would run whatever code it contains.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from image_ranking.exceptions import ImageRankingError
from image_ranking.media.files import atomic_write

HEAD_FORMAT = "image_ranking.learned_head"
HEAD_FORMAT_VERSION = 1
LABELS = ("bad", "good")  # logistic class 1 is "good"

Target = Literal["label", "score"]

RIDGE_ALPHAS = np.logspace(-1, 5, 25)
LOGISTIC_CS = np.logspace(-5, 0, 8)


class TrainingError(ImageRankingError):
    """The training data cannot give a usable head (message says what is missing)."""


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


# --------------------------------------------------------------------------- checks


def label_counts(labels: Sequence[str]) -> dict[str, int]:
    counts = Counter(labels)
    return {name: counts.get(name, 0) for name in LABELS}


def check_training_set(y: Sequence[Any], target: Target, min_examples: int = 20) -> None:
    """Raise ``TrainingError`` naming what is missing before any fitting starts."""
    n = len(y)
    if n == 0:
        raise TrainingError("No labelled images at all.")
    if target == "label":
        unknown = sorted({str(v) for v in y} - set(LABELS))
        if unknown:
            raise TrainingError(f"Labels must be 'good' or 'bad'; found {', '.join(unknown)}.")
        counts = label_counts(y)
        missing = [name for name, count in counts.items() if count == 0]
        if missing:
            raise TrainingError(
                f"Only one class of labels: {counts['good']} good, {counts['bad']} bad. "
                f"Label some {missing[0]} images too."
            )
        if n < min_examples:
            raise TrainingError(
                f"Too few labels: {n} ({counts['good']} good, {counts['bad']} bad); "
                f"need at least {min_examples}."
            )
        if min(counts.values()) < 2:
            raise TrainingError(
                f"Too few labels in one class ({counts['good']} good, {counts['bad']} bad); "
                "need at least 2 of each for cross-validation."
            )
    else:
        values = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise TrainingError("Some scores are not finite numbers.")
        if n < min_examples:
            raise TrainingError(f"Too few scored images: {n}; need at least {min_examples}.")
        if np.ptp(values) == 0:
            raise TrainingError(f"All {n} scores are equal ({values[0]}); nothing to learn.")


# ---------------------------------------------------------------------------- fitting


def _targets(y: Sequence[Any], target: Target) -> np.ndarray:
    if target == "label":
        return np.array([1 if v == "good" else 0 for v in y], dtype=np.int64)
    return np.asarray(y, dtype=np.float64)


def _model(target: Target, n_classes_min: int) -> Any:
    import inspect

    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if target == "label":
        inner = StratifiedKFold(max(2, min(5, n_classes_min)), shuffle=True, random_state=0)
        # scikit-learn 1.8+ warns unless these are explicit; older versions lack them.
        params = inspect.signature(LogisticRegressionCV).parameters
        extra: dict[str, Any] = {}
        if "use_legacy_attributes" in params:
            extra = {"l1_ratios": (0.0,), "use_legacy_attributes": False}
        # LogisticRegressionCV walks the C path with warm starts: several times faster
        # than a grid search over separate fits.
        estimator = LogisticRegressionCV(
            Cs=LOGISTIC_CS, cv=inner, scoring="neg_log_loss", max_iter=2000, **extra
        )
    else:
        estimator = RidgeCV(alphas=RIDGE_ALPHAS)
    return make_pipeline(StandardScaler(), estimator)


def _min_class(y: np.ndarray, target: Target) -> int:
    if target != "label":
        return len(y)
    return int(min(np.sum(y == 0), np.sum(y == 1)))


def fit_head(
    features: np.ndarray,
    y: Sequence[Any],
    target: Target,
    backbone: str,
    backbone_settings: dict[str, Any],
    score_range: tuple[float, float] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Head:
    """Fit on all examples. ``score_range`` maps scores onto 0-10 (default: observed range)."""
    check_training_set(y, target, min_examples=2)
    targets = _targets(y, target)
    pipeline = _model(target, _min_class(targets, target))
    pipeline.fit(np.asarray(features, dtype=np.float64), targets)
    scaler, estimator = pipeline[0], pipeline[-1]
    scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    if target == "label":
        regularisation = {"C": float(np.ravel(estimator.C_)[0])}
        coef = estimator.coef_[0]
        intercept = float(estimator.intercept_[0])
        calibration: dict[str, Any] = {"kind": "sigmoid", "note": "10 x P(good)"}
    else:
        coef = estimator.coef_
        intercept = float(estimator.intercept_)
        low, high = score_range or (float(targets.min()), float(targets.max()))
        if not high > low:
            raise TrainingError(f"Score range must have high > low, got {low}..{high}.")
        calibration = {"kind": "linear", "low": float(low), "high": float(high)}
        regularisation = {"alpha": float(estimator.alpha_)}
    meta = dict(metadata or {})
    meta.setdefault("regularisation", regularisation)
    return Head(
        backbone=backbone,
        backbone_settings=backbone_settings,
        target=target,
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        coef=np.asarray(coef, dtype=np.float64),
        intercept=intercept,
        calibration=calibration,
        metadata=meta,
    )


def cross_validated_predictions(
    features: np.ndarray, y: Sequence[Any], target: Target, folds: int = 5, seed: int = 0
) -> tuple[np.ndarray, int]:
    """Out-of-fold raw predictions (P(good) or predicted score) and the folds used."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    targets = _targets(y, target)
    min_class = _min_class(targets, target)
    folds = max(2, min(folds, min_class, len(targets)))
    if target == "label":
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
        # Each training fold holds fewer of the rarer class; size the inner CV for that.
        model = _model(target, min_class - math.ceil(min_class / folds))
        method = "predict_proba"
    else:
        splitter = KFold(folds, shuffle=True, random_state=seed)
        model = _model(target, len(targets))
        method = "predict"
    predictions = cross_val_predict(
        model, np.asarray(features, dtype=np.float64), targets, cv=splitter, method=method
    )
    if target == "label":
        predictions = predictions[:, 1]
    return np.asarray(predictions, dtype=np.float64), folds


def metrics(predictions: np.ndarray, y: Sequence[Any], target: Target) -> dict[str, float]:
    """accuracy/AUC for labels, Spearman/Pearson for scores (rounded, for the head file)."""
    from scipy.stats import pearsonr, spearmanr

    targets = _targets(y, target)
    if target == "label":
        from sklearn.metrics import roc_auc_score

        return {
            "accuracy": round(float(np.mean((predictions >= 0.5) == (targets == 1))), 4),
            "auc": round(float(roc_auc_score(targets, predictions)), 4),
        }
    return {
        "spearman": round(float(spearmanr(predictions, targets)[0]), 4),
        "pearson": round(float(pearsonr(predictions, targets)[0]), 4),
    }


def cross_validate(
    features: np.ndarray, y: Sequence[Any], target: Target, folds: int = 5, seed: int = 0
) -> dict[str, float]:
    predictions, used = cross_validated_predictions(features, y, target, folds, seed)
    return {**metrics(predictions, y, target), "folds": used}


# ------------------------------------------------------------------------ file format


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


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
