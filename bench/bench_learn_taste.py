"""Benchmark (not a test): does a few labels' worth of a curator's taste adapt the prior?

    nice -n 10 .venv/bin/python bench/bench_learn_taste.py [--draws 2] [--tastes vivid ...]

Simulated curators whose taste is not plain technical quality, computed from the photos:
  vivid    z(MOS) + z(colourfulness)      (technical quality plus a taste for vivid colour)
  daylight z(MOS) + z(mean brightness)    (prefers bright, daylight scenes)
  warm     z(MOS) + z(mean red - blue)    (prefers warm light)
  scenery  z(MOS) + z(log P(landscape))   (prefers open views; Lite0's ImageNet classifier)
They label N shared LIVE photos good/bad (taste above/below the median). Outer 5-fold
over the 627 photos: the prior is trained on the MOS of the other four fifths only, as
the bundled one is on all photos. For ``efficientnet-lite0-live-lite2`` (the default) that
means the network fine-tuned on those four fifths, whose vectors the labels' correction
then reads, on one fixed split; for frozen backbones, a ridge head, the split reshuffled
per draw. The N labels are drawn from those four fifths, and Spearman against the taste
is measured on the test fifth, which nobody labelled. Columns: the prior alone, labels
alone (today's head: logistic on the labels), the adapted head (``adaptation.adapt``);
averaged over folds x draws.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from PIL import Image  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from bench import finetune  # noqa: E402
from bench.clive import CLIVE, OUT, embed_clive, load_clive  # noqa: E402
from image_ranking.learning import adaptation, fitting  # noqa: E402
from image_ranking.priors import PRIOR_BACKBONE  # noqa: E402
from image_ranking.scoring import embeddings as emb  # noqa: E402
from image_ranking.scoring import heads  # noqa: E402

SIZES = (20, 50, 100, 200)
# Backbones trained on the photos themselves: each outer fold needs its own network.
FINETUNED = {"efficientnet-lite0-live-lite2"}


def zscore(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / values.std()


def warmth(paths: list[Path]) -> np.ndarray:
    values = []
    for path in paths:
        rgb = np.asarray(Image.open(path).convert("RGB").reduce(4), dtype=np.float32)
        values.append(float((rgb[..., 0] - rgb[..., 2]).mean()))
    return np.array(values)


# ImageNet's landscape classes (alp, cliff, coral reef, geyser, lakeside, promontory,
# sandbar, seashore, valley, volcano): a taste for open views over streets and rooms.
SCENERY_CLASSES = [970, 972, 973, 974, 975, 976, 977, 978, 979, 980]


def scenery(paths: list[Path]) -> np.ndarray:
    """log P(landscape) by Lite0's own ImageNet classifier, on a 224 px view of each photo.

    A taste about what is in the picture, which no appearance statistic measures: only the
    network features (penalised more by the adaptation) can carry it.
    """
    import torch

    backbone = emb.get_backbone("efficientnet-lite0")
    model = backbone._load()
    values = []
    with torch.inference_mode():
        for path in paths:
            image = Image.open(path).convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
            logits = model(torch.from_numpy(backbone._array(image))[None])[0]
            values.append(float(torch.logsumexp(logits.log_softmax(0)[SCENERY_CLASSES], 0)))
    return np.array(values)


def tastes(
    X: np.ndarray, mos: np.ndarray, paths: list[Path], appearance: range
) -> dict[str, np.ndarray]:
    # image_statistics come first among the appearance columns: brightness is the 4th,
    # colourfulness the 6th. Warmth is computed from the photos themselves.
    stats = X[:, list(appearance)]
    return {
        "vivid": zscore(mos) + zscore(stats[:, 5]),
        "daylight": zscore(mos) + zscore(stats[:, 3]),
        "warm": zscore(mos) + zscore(warmth(paths)),
        "scenery": zscore(mos) + zscore(scenery(paths)),
    }


def draw(rng: np.random.Generator, pool: np.ndarray, good: np.ndarray, n: int) -> np.ndarray:
    """``n`` photos of ``pool`` with at least 3 of each label (a curator labels both)."""
    while True:
        rows = rng.choice(pool, size=n, replace=False)
        if 3 <= good[rows].sum() <= n - 3:
            return rows


@dataclass
class Fold:
    """An outer fold: the prior (never trained on ``test``) and the vectors it reads."""

    train: np.ndarray
    test: np.ndarray
    X: np.ndarray
    prior: heads.Head


def ridge_folds(X: np.ndarray, mos: np.ndarray, seed: int) -> list[Fold]:
    """A ridge prior on frozen features per fold, the split shuffled by ``seed``."""
    folds = []
    for train, test in KFold(5, shuffle=True, random_state=seed).split(X):
        prior = fitting.fit_head(X[train], list(mos[train]), "score", "bench", {})
        folds.append(Fold(train, test, X, prior))
    return folds


def finetuned_folds(paths: list[Path], mos: np.ndarray) -> list[Fold]:
    """The fine-tuned prior per fold: each fold's own network (bench_prior.py's, trained
    on the other four fifths) embeds every photo, and the fold's ridge head is the prior."""
    folds = []
    for fold in finetune.fold_priors(paths, mos, OUT, 5):
        backbone = finetune.tuned_backbone(fold.weights)
        X = embed_clive(paths, backbone, emb.EmbeddingCache(OUT / "cache"))
        folds.append(Fold(fold.train, fold.test, X, fold.head))
    return folds


def one_fold(
    fold: Fold, taste: np.ndarray, n: int, rng: np.random.Generator, light: range
) -> tuple[float, float, float, str]:
    X, train, test, prior = fold.X, fold.train, fold.test, fold.prior
    good = (taste > np.median(taste)).astype(int)
    rows = draw(rng, train, good, n)
    labels = ["good" if g else "bad" for g in good[rows]]
    alone = fitting.fit_head(X[rows], labels, "label", "bench", {})
    adapted = adaptation.adapt(
        prior, adaptation.Preferences(X[rows], good[rows]), light_columns=light
    )
    return (
        spearmanr(prior.decision(X[test]), taste[test])[0],
        spearmanr(alone.decision(X[test]), taste[test])[0],
        spearmanr(adapted.head.decision(X[test]), taste[test])[0],
        adaptation.penalty_label(adapted.penalty),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clive", type=Path, default=CLIVE)
    parser.add_argument("--draws", type=int, default=2, help="Label draws per outer fold.")
    parser.add_argument("--tastes", nargs="+", default=["vivid", "daylight", "warm", "scenery"])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--backbone", default=PRIOR_BACKBONE)
    args = parser.parse_args()
    paths, mos = load_clive(args.clive)
    backbone = emb.get_backbone(args.backbone)
    fixed = finetuned_folds(paths, mos) if args.backbone in FINETUNED else None
    X = fixed[0].X if fixed else embed_clive(paths, backbone, emb.EmbeddingCache(OUT / "cache"))
    all_tastes = tastes(X, mos, paths, backbone.appearance_columns)
    lines = [
        f"| taste | labels | prior alone | labels alone | adapted | adapted - prior "
        f"| worst draw: adapted - prior | penalties chosen |"
        f"  ({backbone.name}, 5 outer folds x {args.draws} draws)",
        "|---|---|---|---|---|---|---|---|",
    ]
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # many small fits: BLAS threads only contend on 2 shared cores
    for name in args.tastes:
        taste = all_tastes[name]
        print(f"{name}: Spearman(MOS, taste) = {spearmanr(mos, taste)[0]:.3f}", flush=True)
        for n in args.sizes:
            started = time.perf_counter()
            results = []
            for draw_index in range(args.draws):
                rng = np.random.default_rng(1000 * n + draw_index)
                for fold in fixed or ridge_folds(X, mos, draw_index):
                    results.append(one_fold(fold, taste, n, rng, backbone.appearance_columns))
            means = np.mean([r[:3] for r in results], axis=0)
            worst = min(r[2] - r[0] for r in results)
            chosen = ",".join(sorted({r[3] for r in results}))
            lines.append(
                f"| {name} | {n} | {means[0]:.3f} | {means[1]:.3f} | {means[2]:.3f} "
                f"| {means[2] - means[0]:+.3f} | {worst:+.3f} | {chosen} |"
            )
            print(lines[-1], f"({time.perf_counter() - started:.0f}s)", flush=True)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
