"""The shared LIVE In the Wild photos (CLIVE) for the benchmarks: paths, MOS, cached embeddings."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from PIL import Image

from image_ranking.scoring import embeddings as emb

REPO = Path(__file__).resolve().parent.parent
CLIVE = REPO.parent / "shared" / "data" / "clive"
OUT = REPO / "bench" / "out"


def load_clive(root: Path = CLIVE) -> tuple[list[Path], np.ndarray]:
    if not (root / "labels.csv").exists():
        raise SystemExit(f"CLIVE not found at {root} (labels.csv + images/); pass --clive.")
    with (root / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [root / "images" / r["file"] for r in rows], np.array([float(r["mos"]) for r in rows])


def embed_clive(
    paths: list[Path],
    backbone: emb.Backbone,
    cache: emb.EmbeddingCache,
    resize: int | None = None,
) -> np.ndarray:
    """Embeddings of the photos (first shrunk to ``resize`` px wide if given), each
    computed once and kept in ``cache``."""
    if isinstance(backbone, emb.StackedBackbone):
        return _embed_stacked(paths, backbone, cache, resize)
    vectors: list[np.ndarray | None] = []
    todo = []
    key = backbone.key + (f"-w{resize}" if resize else "")
    for index, path in enumerate(paths):
        digest = emb.content_hash(path.read_bytes())
        cached = cache.get(key, digest)
        vectors.append(cached)
        if cached is None:
            todo.append((index, digest))
    if todo:
        print(f"  encoding {len(todo)} photos ({key})...", flush=True)
        started = time.perf_counter()
        for number, (index, digest) in enumerate(todo, start=1):
            image = _open(paths[index], resize)
            vector = backbone.embed([image])[0]
            cache.put(key, digest, vector)
            vectors[index] = vector
            if number % 100 == 0:
                print(f"    {number}/{len(todo)}", flush=True)
        rate = len(todo) / (time.perf_counter() - started)
        print(f"  {rate:.1f} photos/s (500 px, shared CPU)", flush=True)
    return np.stack(vectors)  # type: ignore[arg-type]


def _open(path: Path, resize: int | None) -> Image.Image:
    image = Image.open(path).convert("RGB")
    if resize:
        image = image.resize((resize, round(image.height * resize / image.width)))
    return image


def _embed_stacked(
    paths: list[Path], backbone: emb.StackedBackbone, cache: emb.EmbeddingCache, resize: int | None
) -> np.ndarray:
    """What ``StackedBackbone.embed`` gives, from each network's own cache entries, so
    stacks sharing a network (each fold's tuned Lite0 beside one Lite2) encode it once."""
    columns = [embed_clive(paths, part, cache, resize) for part in backbone.parts]
    compute = emb.STATISTICS[backbone.stats].compute
    prepare = backbone.parts[0]._prepare
    columns.append(np.stack([compute(prepare(_open(p, resize))) for p in paths]))
    return np.concatenate(columns, axis=1).astype(np.float32)
