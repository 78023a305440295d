"""Adapting a prior head to a curator's taste from few labels and preferences.

A curator's labels rarely number in the hundreds, and a head fitted on 50 of them alone
ranks worse than a head trained on thousands of quality ratings. So labels correct the
prior instead of replacing it: the adapted score is

    f(x) = a * prior_z(x) + w . z(x) + b

where ``prior_z`` is the prior head's output (standardised on the training images), ``z``
the standardised backbone features, ``a >= 0`` and ``b`` free, and ``w`` an L2-penalised
correction. Good/bad labels give logistic terms; preferences ("chosen beats the others
shown for that POI") give pairwise logistic terms on f(i) - f(j). The penalty is chosen by
repeated cross-validation, with "no correction" (the prior's own ranking) a candidate, so
few labels cannot move the ranking far from the prior. Because the prior is linear in the
same features, the result folds into one ordinary ``Head`` (sigmoid: 10 x P(good)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from image_ranking.learning.fitting import TrainingError
from image_ranking.scoring.heads import Head

# Penalties on w tried by cross-validation (relative to the mean loss per example).
LAMBDAS: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
PRIOR_ONLY = float("inf")
# Tiny penalty on a and b: keeps them finite when the prior separates the labels perfectly.
EPS_PENALTY = 1e-4
# Global appearance statistics (brightness, contrast, colourfulness...) are where tastes
# like "vivid" or "daylight" live, and there are few of them: a lighter penalty there lets
# a few labels find such a taste without licensing thousands of network features to fit noise.
LIGHT_FACTOR = 0.005
# Leave the prior only when the cross-validated gain exceeds this many standard errors
# of the prior's own concordance: with 20 labels, chance gains are large.
MARGIN_SE = 0.5
# The prior keeps at least this weight (in its standard deviations): labels adapt it and
# never erase it, so a head never collapses to a constant when labels look like noise.
MIN_PRIOR_WEIGHT = 0.05
# Among the penalties that beat the prior, take the strongest within this many standard
# errors of the best (the one-standard-error rule): with 20 labels the cross-validated
# optimum is mostly luck, and the stronger penalty stays nearer the prior. Measured in
# bench/bench_learn_taste.py: the worst 20-label draw went from -0.17 to +0.00 vs the prior.
ONE_SE = 1.0
# A statistic is named among what the labels favour when its correction weighs at least
# this share of the prior's (both per standard deviation).
LEANING_SHOWN = 0.15


@dataclass
class Preferences:
    """What a curator told us about some images.

    ``labels``: 1 good, 0 bad, -1 none (an image known only through pairs). ``pairs``: rows
    ``(i, j)`` meaning image i is preferred to image j. ``groups``: the POI of each image;
    cross-validation keeps a POI's images in one fold so its pairs are tested whole.
    """

    features: np.ndarray
    labels: np.ndarray
    pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.pairs = np.asarray(self.pairs, dtype=np.int64).reshape(-1, 2)
        if len(self.labels) != len(self.features):
            raise ValueError("One label (or -1) per image is needed.")

    def subset(self, rows: np.ndarray) -> Preferences:
        """The images in ``rows`` and the pairs with both ends among them (renumbered)."""
        index = np.full(len(self.labels), -1)
        index[rows] = np.arange(len(rows))
        kept = self.pairs[(index[self.pairs] >= 0).all(axis=1)] if len(self.pairs) else self.pairs
        return Preferences(
            self.features[rows],
            self.labels[rows],
            index[kept] if len(kept) else np.zeros((0, 2), dtype=np.int64),
            None if self.groups is None else self.groups[rows],
        )


@dataclass
class Correction:
    a: float
    b: float
    w: np.ndarray
    beta: np.ndarray | None = None  # coordinates in the feature basis (for warm starts)

    def decision(self, prior_z: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.a * prior_z + z @ self.w + self.b


@dataclass
class Adaptation:
    """The adapted head and the cross-validated evidence for it."""

    head: Head
    oof: np.ndarray  # out-of-fold decisions of the chosen penalty (first repeat)
    penalty: float
    prior_cv: float
    adapted_cv: float
    table: dict[str, float]
    correction: Correction | None = None

    @property
    def prior_only(self) -> bool:
        return self.penalty == PRIOR_ONLY

    def leanings(self, columns: Sequence[int], names: Sequence[str]) -> list[tuple[str, float]]:
        """What the labels added to the prior, in words: each named column's correction
        weight relative to the prior's (per standard deviation of each), largest first;
        only those of at least ``LEANING_SHOWN`` of the prior's weight."""
        if self.prior_only or self.correction is None:
            return []
        fit = self.correction
        pairs = zip(columns, names, strict=True)
        ratios = [(name, float(fit.w[col] / fit.a)) for col, name in pairs]
        ratios.sort(key=lambda item: -abs(item[1]))
        return [(name, round(ratio, 2)) for name, ratio in ratios if abs(ratio) >= LEANING_SHOWN]


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _loss_and_grad(f: np.ndarray, data: Preferences) -> tuple[float, np.ndarray]:
    """Mean logistic loss of the labels and pairs at decisions ``f``, and its gradient."""
    labelled = np.flatnonzero(data.labels >= 0)
    signs = np.where(data.labels[labelled] == 1, 1.0, -1.0)
    pairs = data.pairs
    grad = np.zeros_like(f)
    loss = 0.0
    if len(labelled):
        margin = signs * f[labelled]
        loss += _softplus(-margin).sum()
        np.add.at(grad, labelled, -signs * _sigmoid(-margin))
    if len(pairs):
        diff = f[pairs[:, 0]] - f[pairs[:, 1]]
        loss += _softplus(-diff).sum()
        g = -_sigmoid(-diff)
        np.add.at(grad, pairs[:, 0], g)
        np.add.at(grad, pairs[:, 1], -g)
    terms = len(labelled) + len(pairs)
    return float(loss) / terms, grad / terms


def feature_basis(z: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """``(F, Q, root)``: the n training images' coordinates ``F`` in the (at most n-dim)
    span of their penalty-scaled features ``z / root`` (``root = sqrt(weights)``), and the
    basis ``Q`` of that span. The optimal correction lies in it, so fitting searches n
    well-conditioned coordinates, not thousands of features."""
    root = np.sqrt(np.ones(z.shape[1]) if weights is None else weights)
    u, s, qt = np.linalg.svd(z / root, full_matrices=False)
    keep = s > s.max() * 1e-9 if len(s) else s > 0
    return u[:, keep] * s[keep], qt[keep], root


def fit_correction(
    prior_z: np.ndarray,
    z: np.ndarray,
    data: Preferences,
    penalty: float,
    weights: np.ndarray | None = None,
    start: Correction | None = None,
    basis: tuple[np.ndarray, ...] | None = None,
) -> Correction:
    """Minimise the mean logistic loss of labels and pairs plus ``penalty/2 sum(v w^2)``.

    ``weights`` (v) scale the penalty per feature (default 1); ``start`` warm-starts;
    ``basis`` is ``feature_basis(z, weights)`` when already computed.
    """
    from scipy.optimize import minimize

    if not np.any(data.labels >= 0) and not len(data.pairs):
        raise TrainingError("No labels and no preferences to learn from.")
    coords, q, root = basis if basis is not None else feature_basis(z, weights)
    r = coords.shape[1] if np.isfinite(penalty) else 0
    coords = coords[:, :r]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b, beta = theta[0], theta[1], theta[2:]
        loss, grad_f = _loss_and_grad(a * prior_z + b + coords @ beta, data)
        grad = np.empty_like(theta)
        grad[0] = grad_f @ prior_z + EPS_PENALTY * a
        grad[1] = grad_f.sum() + EPS_PENALTY * b
        grad[2:] = coords.T @ grad_f + penalty * beta if r else 0.0
        loss += 0.5 * EPS_PENALTY * (a * a + b * b) + 0.5 * (
            penalty * float(beta @ beta) if r else 0.0
        )
        return loss, grad

    theta0 = np.zeros(2 + r)
    theta0[0] = 1.0
    if start is not None:
        theta0[0], theta0[1] = max(start.a, MIN_PRIOR_WEIGHT), start.b
        if start.beta is not None and len(start.beta) == r:
            theta0[2:] = start.beta
    bounds = [(MIN_PRIOR_WEIGHT, None)] + [(None, None)] * (r + 1)
    theta = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds).x
    beta = theta[2:]
    w = (q[:r].T @ beta) / root if r else np.zeros(z.shape[1])
    return Correction(float(theta[0]), float(theta[1]), w, beta)


def concordance(scores: np.ndarray, data: Preferences) -> float:
    """Share of known preferences the scores order correctly (ties count half).

    Known preferences: every good image over every bad one (that share is the AUC) and
    the explicit pairs, each pair weighing as much as one good-over-bad comparison.
    """
    good = scores[data.labels == 1]
    bad = scores[data.labels == 0]
    right = total = 0.0
    if len(good) and len(bad):
        diff = good[:, None] - bad[None, :]
        right += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
        total += diff.size
    if len(data.pairs):
        diff = scores[data.pairs[:, 0]] - scores[data.pairs[:, 1]]
        right += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
        total += len(diff)
    return right / total if total else float("nan")


def _folds(data: Preferences, folds: int, seed: int) -> list[np.ndarray]:
    """Test rows of each fold: by POI group when there are enough POIs, else by label."""
    rng = np.random.default_rng(seed)
    n = len(data.labels)
    fold_of = np.empty(n, dtype=np.int64)
    if data.groups is not None and len(np.unique(data.groups)) >= folds:
        unique = rng.permutation(np.unique(data.groups))
        rank = {group: i % folds for i, group in enumerate(unique)}
        fold_of[:] = [rank[g] for g in data.groups]
    else:
        for value in np.unique(data.labels):
            rows = rng.permutation(np.flatnonzero(data.labels == value))
            fold_of[rows] = (np.arange(len(rows)) + rng.integers(folds)) % folds
    return [np.flatnonzero(fold_of == k) for k in range(folds) if np.any(fold_of == k)]


def _can_fit(data: Preferences) -> bool:
    labels = data.labels[data.labels >= 0]
    return len(data.pairs) > 0 or (np.any(labels == 1) and np.any(labels == 0))


def cross_validated_concordance(
    prior_z: np.ndarray,
    z: np.ndarray,
    data: Preferences,
    penalties: Sequence[float],
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> tuple[dict[float, list[float]], dict[float, np.ndarray]]:
    """Per penalty, the concordance of out-of-fold scores in each repeat, and the first
    repeat's out-of-fold decisions (for accuracy and AUC on the labels)."""
    results: dict[float, list[float]] = {p: [] for p in penalties}
    first: dict[float, np.ndarray] = {}
    for repeat in range(repeats):
        oof = {p: np.zeros(len(data.labels)) for p in penalties}
        for test in _folds(data, folds, seed + repeat):
            train = np.setdiff1d(np.arange(len(data.labels)), test)
            part = data.subset(train)
            basis = feature_basis(z[train], weights)
            fit = None
            # Strongest penalty first (prior-only: w = 0): each fit warm-starts the next.
            for penalty in sorted(penalties, reverse=True):
                if not _can_fit(part):
                    oof[penalty][test] = prior_z[test]
                    continue
                fit = fit_correction(prior_z[train], z[train], part, penalty, weights, fit, basis)
                oof[penalty][test] = fit.decision(prior_z[test], z[test])
        for penalty in penalties:
            results[penalty].append(concordance(oof[penalty], data))
        first = first or oof
    return results, first


def _standardisers(prior: Head, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The prior's scaler when it was fitted on real images; else the training set's own."""
    if np.all(prior.mean == 0) and np.all(prior.scale == 1):
        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        return mean, np.where(scale > 1e-12, scale, 1.0)
    return prior.mean, prior.scale


def adapt(
    prior: Head,
    data: Preferences,
    penalties: Sequence[float] = LAMBDAS,
    folds: int = 5,
    repeats: int | None = None,
    seed: int = 0,
    metadata: dict[str, Any] | None = None,
    light_columns: Sequence[int] = (),
) -> Adaptation:
    """Fit the correction with the penalty cross-validation prefers (prior-only included).

    ``light_columns``: feature columns (appearance statistics) penalised ``LIGHT_FACTOR``
    times less than the others. ``repeats`` of the k-fold: default 5 up to 100 images, 3
    above (measured: 5 halves the worst 20-label draw's loss on one simulated taste).
    """
    raw = prior.decision(data.features)
    centre, spread = float(raw.mean()), float(raw.std()) or 1.0
    prior_z = (raw - centre) / spread
    mean, scale = _standardisers(prior, data.features)
    z = (data.features - mean) / scale
    weights = np.ones(z.shape[1])
    weights[list(light_columns)] = LIGHT_FACTOR
    candidates = [PRIOR_ONLY, *penalties]
    if repeats is None:  # small sets: more repeats steady the noisy choice; cheap there
        repeats = 5 if len(data.labels) <= 100 else 3
    from threadpoolctl import threadpool_limits

    # Hundreds of tiny optimisations: BLAS threads only add overhead (4-7x on 2 busy cores).
    with threadpool_limits(1):
        cv, oof = cross_validated_concordance(
            prior_z, z, data, candidates, folds, repeats, seed, weights
        )
    best = choose_penalty(cv, data)
    fit = fit_correction(prior_z, z, data, best, weights)
    # The figures as written into the head's metadata (JSON: penalties become labels).
    table = {penalty_label(p): round(float(np.mean(v)), 4) for p, v in cv.items()}
    meta = dict(metadata or {})
    meta["adaptation"] = {
        "penalty": penalty_label(best),
        "prior_weight": round(fit.a / spread, 6),
        "cv_concordance": table,
    }
    return Adaptation(
        head=_folded_head(prior, fit, (centre, spread), (mean, scale), meta),
        oof=oof[best],
        penalty=best,
        prior_cv=table[penalty_label(PRIOR_ONLY)],
        adapted_cv=table[penalty_label(best)],
        table=table,
        correction=fit,
    )


def _folded_head(
    prior: Head,
    fit: Correction,
    prior_stats: tuple[float, float],
    scaler: tuple[np.ndarray, np.ndarray],
    metadata: dict[str, Any],
) -> Head:
    """One linear head computing a * (prior(x) - centre) / spread + ((x - mean) / scale) . w + b."""
    (centre, spread), (mean, scale) = prior_stats, scaler
    coef = fit.a / spread * prior.coef * (scale / prior.scale) + fit.w
    offset = float(((mean - prior.mean) / prior.scale) @ prior.coef) + prior.intercept
    return Head(
        backbone=prior.backbone,
        backbone_settings=prior.backbone_settings,
        target="label",
        mean=np.asarray(mean, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        coef=coef,
        intercept=fit.a / spread * (offset - centre) + fit.b,
        calibration={"kind": "sigmoid", "note": "10 x P(good), prior adapted to labels"},
        metadata=metadata,
    )


def choose_penalty(cv: Mapping[float, Sequence[float]], data: Preferences) -> float:
    """The penalty to keep: the prior unless some penalty beats it by the margin.

    ``cv``: each penalty's concordance in every repeat of the cross-validation, the prior
    under ``PRIOR_ONLY``. The standard error is that of a concordance measured on this many
    independent comparisons (the rarer label's count plus the pairs), so 20 labels need a
    clear gain and 200 a small one. A penalty qualifies when its mean beats the prior's by
    ``MARGIN_SE`` standard errors and it beats the prior in every repeat, not on average.
    Of those, the strongest within ``ONE_SE`` standard errors of the best.
    """
    prior_runs = cv[PRIOR_ONLY]
    prior = float(np.mean(prior_runs))
    labels = data.labels[data.labels >= 0]
    comparisons = max(1, min(int(np.sum(labels == 1)), int(np.sum(labels == 0))) + len(data.pairs))
    se = float(np.sqrt(max(prior * (1 - prior), 0.01) / comparisons))
    qualified = {
        penalty: float(np.mean(runs))
        for penalty, runs in cv.items()
        if penalty != PRIOR_ONLY
        and np.mean(runs) > prior + MARGIN_SE * se
        and all(v > p for v, p in zip(runs, prior_runs, strict=True))
    }
    if not qualified:
        return PRIOR_ONLY
    best = max(qualified.values())
    return max(p for p, value in qualified.items() if value >= best - ONE_SE * se)


def penalty_label(penalty: float) -> str:
    """How a penalty is named in the head's metadata and reports: "prior", "0.03"."""
    return "prior" if penalty == PRIOR_ONLY else f"{penalty:g}"
