"""Benchmark (not a test): choose the bundled prior's backbone by measurement.

    nice -n 10 .venv/bin/python bench/bench_prior.py [--backbones efficientnet-lite0 ...]

For each backbone: embeds the 627 LIVE photos once (cached under bench/out/cache), then
k-fold (photos never seen by the fold's head) Spearman/Pearson against MOS of a ridge head
(the prior's recipe, ``fitting.fit_head`` on scores), and the speed of embed + head on a
960 px thumbnail (downscaled to the backbone's max_side, as the scorer does) on this
machine, best of three (the 2 cores are shared: a loaded machine gives lower figures).

``efficientnet-lite0-live-lite2`` (the shipped prior) holds networks trained on these photos
(``--runs`` of them, side by side), so its k-fold retrains them on each fold's training
photos (``bench/finetune.py``, about 10 minutes per network and fold; kept under
bench/out/finetune for bench_learn_taste.py) and scores the held-out photos through the
backbone and head exactly as the scorer does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from PIL import Image  # noqa: E402
from scipy.stats import pearsonr, spearmanr  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from bench import finetune  # noqa: E402
from bench.clive import CLIVE, OUT, embed_clive, load_clive  # noqa: E402
from image_ranking.learning import fitting  # noqa: E402
from image_ranking.scoring import embeddings as emb  # noqa: E402
from image_ranking.scoring import heads  # noqa: E402

DEFAULT_BACKBONES = [
    "efficientnet-lite0",
    "efficientnet-lite2",
    "efficientnet-lite0-lite2",
    "efficientnet-lite0-live-lite2",
]
# Backbones whose network is itself trained on the photos: k-fold retrains it per fold.
FINETUNED = {"efficientnet-lite0-live-lite2"}
# Variants measured here but not registered (the levers: more depths, a second scale).
CANDIDATES = {
    "lite0-all-taps": lambda: emb.EfficientNetLiteBackbone("lite0", taps=(1, 2, 3, 4, 5, 6)),
    "lite0-ms2": lambda: emb.EfficientNetLiteBackbone("lite0", scales=2),
    "lite0-ms2-all-taps": lambda: emb.EfficientNetLiteBackbone(
        "lite0", scales=2, taps=(1, 2, 3, 4, 5, 6)
    ),
    "lite2-all-taps": lambda: emb.EfficientNetLiteBackbone("lite2", taps=(1, 2, 3, 4, 5, 6)),
    "lite0-lite1-lite2": lambda: emb.StackedBackbone(
        "efficientnet-lite0-lite1-lite2",
        [
            emb.EfficientNetLiteBackbone(v, taps=emb.ALL_TAPS, stats="none")
            for v in ("lite0", "lite1", "lite2")
        ],
        "stats11",
    ),
}


def kfold_scores(X: np.ndarray, mos: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    pred = np.zeros(len(mos))
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        head = fitting.fit_head(X[train], list(mos[train]), "score", "bench", {})
        pred[test] = head.decision(X[test])
    return pred


def speed(backbone: emb.Backbone, photo: Path) -> float:
    """Images/s for embed + head on one 960 px image at a time, best of three runs."""
    zeros = np.zeros(backbone.dim)
    calibration = {"kind": "linear", "low": 0.0, "high": 100.0}
    head = heads.Head("bench", {}, "score", zeros, zeros + 1, zeros, 0.0, calibration)
    image = Image.open(photo).convert("RGB").resize((960, 720), Image.Resampling.BICUBIC)
    backbone.embed([image])  # warm-up: weights load
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(5):
            head.scores(backbone.embed([image]))
        best = max(best, 5 / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clive", type=Path, default=CLIVE)
    parser.add_argument("--backbones", nargs="+", default=DEFAULT_BACKBONES)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2, help="k-fold shuffles averaged.")
    parser.add_argument(
        "--finetune-folds",
        type=int,
        default=5,
        help="Folds for fine-tuned backbones (each fold trains the network: ~10 min).",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=finetune.RUNS,
        help="Fine-tuned Lite0 networks side by side (the shipped prior has RUNS).",
    )
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    paths, mos = load_clive(args.clive)
    import torch

    lines = [
        f"| backbone ({args.folds}-fold x {args.seeds}, n={len(mos)}) | dim | Spearman "
        f"| Pearson | images/s @960px |",
        "|---|---|---|---|---|",
    ]
    for name in args.backbones:
        backbone = CANDIDATES[name]() if name in CANDIDATES else emb.get_backbone(name)
        if name in FINETUNED:
            preds = [finetune.oof_scores(paths, mos, OUT, args.finetune_folds, args.runs)]
            # The first fold's networks: the width and speed of ``runs`` tuned Lite0s.
            files = [
                finetune.fold_weights(OUT, 0, args.finetune_folds, run=r) for r in range(args.runs)
            ]
            backbone = finetune.tuned_backbone(files)
            label = f"{name} ({args.runs} fine-tuned, {args.finetune_folds}-fold x 1)"
        else:
            X = embed_clive(paths, backbone, emb.EmbeddingCache(OUT / "cache"))
            preds = [kfold_scores(X, mos, args.folds, seed) for seed in range(args.seeds)]
            label = name
        sp = np.mean([spearmanr(p, mos)[0] for p in preds])
        pe = np.mean([pearsonr(p, mos)[0] for p in preds])
        rate = "-"
        if not args.no_speed:
            rate = f"{speed(backbone, paths[0]):.1f}"
        lines.append(f"| {label} | {backbone.dim} | {sp:.3f} | {pe:.3f} | {rate} |")
        print(lines[-1], flush=True)
    print(f"\n{torch.get_num_threads()} torch threads; load average {os.getloadavg()[0]:.1f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
