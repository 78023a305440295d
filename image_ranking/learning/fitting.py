"""Fitting and cross-validating the learned ranker's head (its file format: ``scoring.heads``).

The head is a linear model on backbone embeddings: logistic regression for good/bad
labels (score = probability x 10) or ridge regression for numeric scores (score = the
prediction mapped linearly from the training scores' range onto 0-10). Features are
standardised first; the regularisation strength is chosen by internal cross-validation.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from image_ranking.exceptions import ImageRankingError
from image_ranking.scoring.heads import Head, Target

LABELS = ("bad", "good")  # logistic class 1 is "good"

RIDGE_ALPHAS = np.logspace(-1, 5, 25)
LOGISTIC_CS = np.logspace(-5, 0, 8)


class TrainingError(ImageRankingError):
    """The training data cannot give a usable head (message says what is missing)."""


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


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
