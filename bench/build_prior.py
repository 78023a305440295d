"""Build the quality prior that ships in image_ranking/priors/ (run again to rebuild it).

    nice -n 10 .venv/bin/python bench/build_prior.py [--clive ../shared/data/clive]

Fine-tunes EfficientNet-Lite0 end to end on all 627 shared LIVE photos' MOS, twice on
two random streams (``bench/finetune.py``), writes the networks as
``embeddings.LIVE_WEIGHTS`` and, as the prior ``image_ranking.priors.PRIOR_HEAD``, one
linear head on the ``efficientnet-lite0-live-lite2`` vectors of those photos (both tuned
Lite0s beside the ImageNet Lite2): the average of a ridge head per network. The head's
metadata records the recipe's 5-fold cross-validated Spearman/Pearson (the fold networks
of ``bench_prior.py``, trained here if missing), the source and the licence. The photos
never enter the repository; the weights and head (derived works) ship with LIVE-NOTICE.txt
beside them. About 10 minutes per final network on 2 cores, plus about 50 per run for the
folds if they are not cached.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402
import numpy as np  # noqa: E402

django.setup()

from scipy.stats import pearsonr, spearmanr  # noqa: E402

from bench import finetune  # noqa: E402
from bench.clive import CLIVE, OUT, load_clive  # noqa: E402
from image_ranking.learning import fitting  # noqa: E402
from image_ranking.priors import PRIOR_HEAD  # noqa: E402
from image_ranking.scoring import heads  # noqa: E402
from image_ranking.scoring.embeddings import LIVE_WEIGHTS  # noqa: E402

FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clive", type=Path, default=CLIVE)
    parser.add_argument("--output", type=Path, default=PRIOR_HEAD)
    args = parser.parse_args()
    paths, mos = load_clive(args.clive)
    runs = len(LIVE_WEIGHTS)  # the registered backbone's tuned networks
    oof = finetune.oof_scores(paths, mos, OUT, FOLDS, runs)
    scores = {
        "folds": FOLDS,
        "networks": runs,
        "spearman": round(float(spearmanr(oof, mos)[0]), 4),
        "pearson": round(float(pearsonr(oof, mos)[0]), 4),
    }
    print(f"{FOLDS}-fold on {len(mos)} photos: {scores}", flush=True)
    finals = finetune.final_weights(paths, mos, OUT, runs)
    for final, shipped in zip(finals, LIVE_WEIGHTS, strict=True):
        shutil.copyfile(final, shipped)
        print(f"Wrote {shipped} ({shipped.stat().st_size} bytes).")
    metadata = {
        "created_at": fitting.now_iso(),
        "source": "LIVE In the Wild Image Quality Challenge Database (627 photos, MOS)",
        "licence": "Derived from the LIVE database; see LIVE-NOTICE.txt beside this file.",
        "label_counts": {"scored": len(mos)},
        "cv_metrics": scores,
        "role": "prior",
    }
    every = np.arange(len(mos))
    head = finetune.run_heads(paths, mos, every, list(LIVE_WEIGHTS), OUT, metadata, keep=False)
    sha256 = heads.save_head(head, args.output)
    print(f"Wrote {args.output} ({args.output.stat().st_size} bytes, sha256 {sha256[:12]}).")


if __name__ == "__main__":
    main()
