"""Benchmark (not a test): would fine-tuning Lite0's top blocks lift the prior toward 0.85?

    nice -n 10 .venv/bin/python bench/bench_finetune_top.py [--epochs 6] [--folds 5]

The bundled prior is a ridge head on frozen features (0.816 Spearman vs MOS). Published
CLIVE results above 0.85 fine-tune the network. Full fine-tuning is hours on 2 cores, so
this measures the affordable part: Lite0's blocks 5-6 and head are trained (5-fold, about
100 s per fold) on block-4 maps computed once (512 px, cached under bench/out), and their
out-of-fold scores are compared with, then averaged with, the prior's ridge on the same
folds. Nothing here ships: it is the evidence for the next step.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from bench.clive import CLIVE, OUT, embed_clive, load_clive  # noqa: E402
from image_ranking.learning import fitting  # noqa: E402
from image_ranking.priors import PRIOR_BACKBONE  # noqa: E402
from image_ranking.scoring import embeddings as emb  # noqa: E402


def block4_maps(paths: list[Path], lite0: emb.EfficientNetLiteBackbone) -> torch.Tensor:
    """Lite0's block-4 output (112 x 32 x 32) of each photo at 512 px, cached as float16."""
    cache = OUT / "cache" / "lite0-block4-512.npy"
    if not cache.exists():
        model = lite0._load()
        maps = []
        for path in paths:
            image = Image.open(path).convert("RGB").resize((512, 512), Image.Resampling.BICUBIC)
            with torch.inference_mode():
                x = model.bn1(model.conv_stem(torch.from_numpy(lite0._array(image))[None]))
                for block in model.blocks[:5]:
                    x = block(x)
            maps.append(x[0].half().numpy())
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, np.stack(maps))
    return torch.from_numpy(np.load(cache).astype(np.float32))


class TopBlocks(torch.nn.Module):
    """A copy of Lite0's blocks 5-6 and head, then a linear score."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        parts = [*copy.deepcopy(list(model.blocks[5:])), copy.deepcopy(model.conv_head)]
        self.body = torch.nn.Sequential(*parts, copy.deepcopy(model.bn2))
        self.out = torch.nn.Linear(1280, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.nn.functional.dropout(self.body(x).mean((2, 3)), 0.3, self.training)
        return self.out(pooled)[:, 0]


def train_fold(model, maps, target, train, epochs, rng) -> TopBlocks:
    net = TopBlocks(model)
    groups = [
        {"params": net.body.parameters(), "lr": 1e-4},
        {"params": net.out.parameters(), "lr": 1e-3},
    ]
    optimiser = torch.optim.AdamW(groups, weight_decay=1e-4)
    for _ in range(epochs):
        net.train()
        for module in net.body.modules():  # 500 photos cannot re-estimate batch norms
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()
        order = rng.permutation(train)
        for start in range(0, len(order), 16):
            batch = order[start : start + 16]
            x = maps[batch].flip(3) if rng.random() < 0.5 else maps[batch]
            top, left = rng.integers(0, 5, 2)  # random 28 x 28 crop of the 32 x 32 maps
            x = x[:, :, top : top + 28, left : left + 28]
            loss = torch.nn.functional.mse_loss(net(x), target[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clive", type=Path, default=CLIVE)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    paths, mos = load_clive(args.clive)
    lite0 = emb.EfficientNetLiteBackbone("lite0")
    maps = block4_maps(paths, lite0)
    X = embed_clive(paths, emb.get_backbone(PRIOR_BACKBONE), emb.EmbeddingCache(OUT / "cache"))
    tuned, ridge = np.zeros(len(mos)), np.zeros(len(mos))
    for fold, (train, test) in enumerate(KFold(args.folds, shuffle=True, random_state=0).split(X)):
        target = torch.from_numpy(((mos - mos[train].mean()) / mos[train].std()).astype("float32"))
        net = train_fold(lite0._load(), maps, target, train, args.epochs, rng)
        with torch.no_grad():
            tuned[test] = net(maps[test]).numpy()
        ridge[test] = fitting.fit_head(X[train], list(mos[train]), "score", "b", {}).decision(
            X[test]
        )
        print(f"  fold {fold}: fine-tuned {spearmanr(tuned[test], mos[test])[0]:.3f}", flush=True)

    def z(values: np.ndarray) -> np.ndarray:
        return (values - values.mean()) / values.std()

    print(f"| {args.folds}-fold Spearman vs MOS | value |\n|---|---|")
    print(f"| prior's ridge on {PRIOR_BACKBONE} | {spearmanr(ridge, mos)[0]:.3f} |")
    tuned_rho = spearmanr(tuned, mos)[0]
    print(f"| Lite0 blocks 5-6 fine-tuned ({args.epochs} epochs) | {tuned_rho:.3f} |")
    print(f"| the two averaged (z-scores) | {spearmanr(z(ridge) + z(tuned), mos)[0]:.3f} |")


if __name__ == "__main__":
    main()
