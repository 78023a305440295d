"""Benchmark (not a test): batched aesthetic scoring vs a one-image-at-a-time loop.

    .venv/bin/python bench/bench_scoring.py [--images 64] [--model ViT-B-32] [--batch 16]

Scores N real photos (CLIVE, ../shared/data/clive) two ways with the same open_clip
backbone and LAION head:
  (a) the app's scorer: ``Scorer.score_images`` (decode, batches of IMAGE_RANKING_SCORE_BATCH_SIZE
      under ``torch.inference_mode``);
  (b) a loop like LAION's ``simple_inference.py``: per image, preprocess, ``encode_image``
      under ``no_grad``, normalise, head.
and prints images/s for both, the ratio and the peak RSS. The backbone's weights cannot be
downloaded on the build machines, so unless ``--pretrained openai`` finds them in the cache
the backbone runs with random weights: the same arithmetic, so the same speed. The head is
the real LAION file (from IMAGE_RANKING_WEIGHTS_DIR, default ../shared/models/laion-aesthetic).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("IMAGE_RANKING_WEIGHTS_DIR", str(SHARED / "models" / "laion-aesthetic"))

import django  # noqa: E402

django.setup()

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from image_ranking.conf import conf  # noqa: E402
from image_ranking.scoring import laion  # noqa: E402
from image_ranking.scoring.clip import load_clip  # noqa: E402

HEAD_FOR_MODEL = {"ViT-B-32": "sa_0_4_vit_b_32_linear", "ViT-L-14": "sac+logos+ava1-l14-linearMSE"}


def thumbnails(folder: Path, count: int, width: int) -> list[bytes]:
    """The first ``count`` CLIVE photos as JPEG thumbnails of ``width`` px, like Commons'."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".bmp"})
    out = []
    for path in files[:count]:
        image = Image.open(path).convert("RGB")
        image.thumbnail((width, width))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=88)
        out.append(buffer.getvalue())
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--model", default="ViT-B-32", choices=sorted(HEAD_FOR_MODEL))
    parser.add_argument("--pretrained", default=None, help="e.g. openai (needs cached weights)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "int8"])
    parser.add_argument("--batch", type=int, default=16, help="IMAGE_RANKING_SCORE_BATCH_SIZE")
    parser.add_argument("--width", type=int, default=330, help="thumbnail width (Commons: 330)")
    parser.add_argument("--clive", type=Path, default=SHARED / "data" / "clive" / "images")
    args = parser.parse_args()
    if not args.clive.is_dir():
        sys.exit(f"{args.clive} not found: pass --clive DIR with photos to score.")

    from django.conf import settings

    settings.IMAGE_RANKING_SCORE_BATCH_SIZE = args.batch
    settings.IMAGE_RANKING_PRECISION = args.precision

    class BenchScorer(laion.LaionScorer):
        name = f"bench-{args.model}"
        model_name = args.model
        pretrained = args.pretrained
        head_name = HEAD_FOR_MODEL[args.model]

    blobs = thumbnails(args.clive, args.images, args.width)
    scorer = BenchScorer()
    started = time.perf_counter()
    scorer.ensure_loaded()
    load_s = time.perf_counter() - started
    scorer.score_images(blobs[:2])  # warm-up (first-call allocations)

    started = time.perf_counter()
    batched = scorer.score_images(blobs)
    batched_s = time.perf_counter() - started

    # LAION's simple_inference.py, image by image (always fp32, as LAION ships it).
    model, preprocess = load_clip(args.model, args.pretrained, device=conf.DEVICE, precision="fp32")
    head = scorer.head
    started = time.perf_counter()
    looped = []
    for data in blobs:
        image = Image.open(io.BytesIO(data))
        with torch.no_grad():
            features = model.encode_image(preprocess(image).unsqueeze(0))
        looped.append(float(head.predict(features.numpy())[0]))
    loop_s = time.perf_counter() - started

    diff = max(abs(min(10, max(0, a)) - (b or 0)) for a, b in zip(looped, batched, strict=True))
    n = len(blobs)
    print(
        f"backbone {args.model} ({args.pretrained or 'random weights, same compute'}), "
        f"head {scorer.head_spec.filename}, {n} CLIVE photos at {args.width} px, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"model load            {load_s:6.1f} s")
    label = f"batched ({args.precision}, {args.batch})"
    print(f"{label:<22}{n / batched_s:6.1f} images/s  ({batched_s:.1f} s)")
    print(f"one-at-a-time loop    {n / loop_s:6.1f} images/s  ({loop_s:.1f} s)")
    print(f"speed-up              {loop_s / batched_s:6.2f}x")
    print(f"max score difference  {diff:.4f}")
    print(f"peak RSS              {peak_rss_mb():6.0f} MB")


if __name__ == "__main__":
    main()
