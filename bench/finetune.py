"""Fine-tune EfficientNet-Lite0 end to end on the LIVE photos' MOS: the prior's recipe.

The prior runs the recipe ``RUNS`` times on other random streams and sets the networks
side by side: a ridge head on each network's vectors (``prior_head``), averaged into one
linear head on them all (``merge_heads``). Used by ``build_prior.py`` (all 627 photos: the
weights and head that ship), ``bench_prior.py`` (k-fold: the same recipe, never tested on
its own training photos) and ``bench_learn_taste.py`` (each outer fold's prior).

Frozen ImageNet features with a ridge head stop near Spearman 0.82 on these photos;
training every layer moves one network to 0.846-0.849 (5-fold, two random streams), and
the two side by side to 0.855. Averaging the two networks' weights instead (a "model
soup", one network's speed) ranked like the mean of the two on three folds, no better.

The recipe: photos at 500 x 500 (their native size), random 384 px crops and mirror
flips, MSE on z-scored MOS, AdamW with a one-cycle schedule (body 1e-4, head 1e-3),
8 epochs, dropout 0.3 before the linear head, batch-norm statistics frozen at ImageNet's
(batches of 16 are too small to re-estimate them). About 70 s per epoch of 500 photos on
2 cores.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from image_ranking.priors import PRIOR_BACKBONE
from image_ranking.scoring import embeddings as emb
from image_ranking.scoring.heads import Head

SIDE = 500
RECIPE: dict[str, Any] = {
    "epochs": 8,
    "crop": 384,
    "batch": 16,
    "lr_body": 1e-4,
    "lr_head": 1e-3,
    "weight_decay": 1e-4,
    "dropout": 0.3,
    "warmup": 0.15,
}
# Networks trained per prior, on other random streams, and set side by side (``merge_heads``).
RUNS = 2


class Regressor(torch.nn.Module):
    """Lite0's layers up to the pooled 1280-channel map, then dropout and one linear unit."""

    def __init__(self, base: torch.nn.Module, dropout: float) -> None:
        super().__init__()
        m = copy.deepcopy(base)
        self.body = torch.nn.Sequential(m.conv_stem, m.bn1, *m.blocks, m.conv_head, m.bn2)
        self.out = torch.nn.Linear(m.conv_head.out_channels, 1)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.body(x).mean((2, 3))
        return self.out(torch.nn.functional.dropout(pooled, self.dropout, self.training))[:, 0]


def photo_arrays(paths: list[Path], cache: Path) -> torch.Tensor:
    """The photos at 500 x 500, scaled as the backbone scales them (cached as float16)."""
    if not cache.exists():
        backbone = emb.get_backbone("efficientnet-lite0")
        arrays = [
            backbone._array(
                Image.open(p).convert("RGB").resize((SIDE, SIDE), Image.Resampling.BICUBIC)
            )
            for p in paths
        ]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, np.stack(arrays).astype(np.float16))
    return torch.from_numpy(np.load(cache).astype(np.float32))


def imagenet_lite0() -> torch.nn.Module:
    """A fresh Lite0 with the packaged ImageNet weights (never the fine-tuned overlay)."""
    return emb.EfficientNetLiteBackbone("lite0")._build()


def finetune(
    X: torch.Tensor,
    mos: np.ndarray,
    train: np.ndarray,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> Regressor:
    """Fine-tune Lite0 on the photos ``train`` (rows of ``X``) against their z-scored MOS."""
    r = RECIPE
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Regressor(imagenet_lite0(), r["dropout"]).to(memory_format=torch.channels_last)
    mean, std = float(mos[train].mean()), float(mos[train].std())
    target = torch.from_numpy(((mos - mean) / std).astype(np.float32))
    per_epoch = -(-len(train) // r["batch"])
    lrs = [r["lr_body"], r["lr_head"]]
    groups = [{"params": net.body.parameters()}, {"params": net.out.parameters()}]
    opt = torch.optim.AdamW(
        [dict(g, lr=lr) for g, lr in zip(groups, lrs, strict=True)],
        weight_decay=r["weight_decay"],
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lrs, total_steps=r["epochs"] * per_epoch, pct_start=r["warmup"]
    )
    started = time.perf_counter()
    for epoch in range(r["epochs"]):
        net.train()
        for module in net.body.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()  # keep ImageNet's running statistics
        order = rng.permutation(train)
        for i in range(0, len(order), r["batch"]):
            rows = order[i : i + r["batch"]]
            top, left = rng.integers(0, SIDE - r["crop"] + 1, 2)
            x = X[rows][:, :, top : top + r["crop"], left : left + r["crop"]]
            if rng.random() < 0.5:
                x = x.flip(3)
            x = x.contiguous(memory_format=torch.channels_last)
            loss = torch.nn.functional.mse_loss(net(x), target[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
        message = f"    epoch {epoch + 1}/{r['epochs']} ({time.perf_counter() - started:.0f}s)"
        (log or (lambda text: print(text, flush=True)))(message)
    net.eval()
    return net


def save_weights(net: Regressor, path: Path) -> None:
    """The network as timm ``tf_efficientnet_lite0`` tensors (float16, no classifier): what
    ``EfficientNetLiteBackbone(finetuned=path)`` lays over the ImageNet weights."""
    model = imagenet_lite0()
    body = torch.nn.Sequential(
        model.conv_stem, model.bn1, *model.blocks, model.conv_head, model.bn2
    )
    body.load_state_dict(net.body.state_dict())
    state = {
        key: value.half()
        for key, value in model.state_dict().items()
        if not key.startswith("classifier.")
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def prior_head(
    backbone: emb.Backbone, X: np.ndarray, mos: np.ndarray, metadata: dict[str, Any]
) -> Head:
    """A ridge head on the backbone's whole vector (one fine-tuned Lite0's and the ImageNet
    Lite2's pooled maps and block statistics, appearance statistics), fitted on the photos
    the network was tuned on.

    Over 5 folds, for one network, it ranked held-out photos at Spearman 0.846, against
    0.810 for the tuned network's own linear unit and 0.809 for the same ridge on ImageNet
    Lite0 + Lite2 (on the first three folds, a ridge on the tuned Lite0 alone: 0.828); and
    it is the same kind of head labels already adapt.
    """
    from image_ranking.learning import fitting

    return fitting.fit_head(
        X,
        list(mos),
        "score",
        backbone.name,
        backbone.settings,
        (0.0, 100.0),
        dict(metadata, recipe=RECIPE),
    )


def tuned_backbone(weights: Sequence[Path]) -> emb.StackedBackbone:
    """The prior's backbone (``efficientnet-lite0-live-lite2``) with other fine-tuned
    networks: one Lite0 part per file, then the ImageNet Lite2 and the statistics."""
    registered = emb.get_backbone(PRIOR_BACKBONE)
    assert isinstance(registered, emb.StackedBackbone)
    lite0s = [emb.live_lite0(run, file) for run, file in enumerate(weights)]
    return emb.StackedBackbone(registered.name, [*lite0s, registered.parts[-1]], registered.stats)


def merge_heads(
    backbone: emb.StackedBackbone, heads: list[Head], metadata: dict[str, Any] | None = None
) -> Head:
    """One linear head on ``backbone`` (every tuned Lite0, then the Lite2 and statistics)
    that averages ``heads``, each a ridge on one tuned Lite0 beside the same Lite2 and
    statistics. An average of linear heads is linear, so the ensemble stays one head that
    labels can adapt like any other."""
    *tuned, _ = backbone.parts
    width = tuned[0].dim
    shared = slice(width, None)  # the Lite2's and the statistics' columns, in every head
    base = heads[0]
    coef_shared = np.zeros_like(base.coef[shared])
    intercept = 0.0
    for head in heads:
        # Re-express the shared columns on the first head's standardisation.
        ratio = base.scale[shared] / head.scale[shared]
        coef_shared += head.coef[shared] * ratio / len(heads)
        offset = (base.mean[shared] - head.mean[shared]) / head.scale[shared]
        intercept += (head.intercept + float(head.coef[shared] @ offset)) / len(heads)
    return Head(
        backbone=backbone.name,
        backbone_settings=backbone.settings,
        target=base.target,
        mean=np.concatenate([*(h.mean[:width] for h in heads), base.mean[shared]]),
        scale=np.concatenate([*(h.scale[:width] for h in heads), base.scale[shared]]),
        coef=np.concatenate([*(h.coef[:width] / len(heads) for h in heads), coef_shared]),
        intercept=intercept,
        calibration=base.calibration,
        metadata=dict(
            metadata or {},
            recipe=RECIPE,
            runs=len(heads),
            regularisation=[h.metadata.get("regularisation") for h in heads],
        ),
    )


def run_heads(
    paths: list[Path],
    mos: np.ndarray,
    rows: np.ndarray,
    weights: list[Path],
    out: Path,
    metadata: dict[str, Any] | None = None,
    keep: bool = True,
) -> Head:
    """A ridge head per network (on its tuned Lite0, the Lite2 and the statistics of the
    photos ``rows``), merged into the ensemble's head. With ``keep``, each is cached
    beside its network for later benchmarks."""
    from bench.clive import embed_clive

    heads = []
    for file in weights:
        head_file = file.with_name(f"{file.stem}-ridge.json")
        if keep and head_file.exists():
            heads.append(heads.load_head(head_file)[0])
            continue
        backbone = tuned_backbone([file])
        vectors = embed_clive([paths[i] for i in rows], backbone, emb.EmbeddingCache(out / "cache"))
        heads.append(prior_head(backbone, vectors, mos[rows], {"weights": file.name}))
        if keep:
            heads.save_head(heads[-1], head_file)
    return merge_heads(tuned_backbone(weights), heads, metadata)


@dataclass
class FoldPrior:
    """One fold of the recipe: photos it trained on and was tested on, networks, head."""

    train: np.ndarray
    test: np.ndarray
    weights: list[Path]
    head: Head


def fold_weights(out: Path, k: int, folds: int, seed: int = 0, run: int = 0) -> Path:
    """Where fold ``k``'s network of training run ``run`` is kept."""
    return out / "finetune" / f"lite0-live-fold{k}-of{folds}-seed{seed}{_suffix(run)}.pt"


def _suffix(run: int) -> str:
    """Run 0 keeps the file names from before there were several runs."""
    return f"-run{run}" if run else ""


def fold_priors(
    paths: list[Path],
    mos: np.ndarray,
    out: Path,
    folds: int = 5,
    seed: int = 0,
    runs: int = RUNS,
) -> list[FoldPrior]:
    """The recipe on each of ``folds`` splits (KFold, shuffled with ``seed``): ``runs``
    networks fine-tuned on the fold's training photos (other random streams) and the
    ensemble's head on their vectors of them. Kept under ``out / "finetune"``, so later
    benchmarks reuse them."""
    from sklearn.model_selection import KFold

    splits = KFold(folds, shuffle=True, random_state=seed).split(np.arange(len(mos)))
    priors = []
    X = None  # the photos as tensors (1.9 GB), loaded only if a fold must be trained
    for k, (train, test) in enumerate(splits):
        weights = [fold_weights(out, k, folds, seed, run) for run in range(runs)]
        for run, file in enumerate(weights):
            if not file.exists():
                if X is None:
                    X = photo_arrays(paths, out / "finetune" / "clive500.npy")
                print(f"  fine-tuning fold {k + 1}/{folds}, run {run}...", flush=True)
                save_weights(finetune(X, mos, train, seed=k + 1000 * run), file)
        meta = {"role": "prior", "fold": k, "folds": folds, "seed": seed}
        head = run_heads(paths, mos, train, weights, out, meta)
        priors.append(FoldPrior(train, test, weights, head))
    return priors


def final_weights(paths: list[Path], mos: np.ndarray, out: Path, runs: int = RUNS) -> list[Path]:
    """The recipe on all photos: ``runs`` networks (cached under ``out / "finetune"``)."""
    every = np.arange(len(mos))
    files = []
    X = None
    for run in range(runs):
        weights = out / "finetune" / f"lite0-live-all-seed0{_suffix(run)}.pt"
        if not weights.exists():
            if X is None:
                X = photo_arrays(paths, out / "finetune" / "clive500.npy")
            print(f"  fine-tuning on all {len(mos)} photos, run {run}...", flush=True)
            save_weights(finetune(X, mos, every, seed=1000 * run), weights)
        files.append(weights)
    return files


def oof_scores(
    paths: list[Path], mos: np.ndarray, out: Path, folds: int = 5, runs: int = RUNS
) -> np.ndarray:
    """Out-of-fold MOS predictions of the recipe, through the scorer's own path: each
    fold's network embeds its held-out photos (as ``embed`` does: no 500 px resize) and
    its head scores them."""
    from bench.clive import embed_clive

    pred = np.zeros(len(mos))
    for fold in fold_priors(paths, mos, out, folds, runs=runs):
        backbone = tuned_backbone(fold.weights)
        X = embed_clive([paths[i] for i in fold.test], backbone, emb.EmbeddingCache(out / "cache"))
        pred[fold.test] = fold.head.decision(X)
    return pred
