"""Build the quality prior that ships in image_ranking/priors/ (run again to rebuild it).

    nice -n 10 .venv/bin/python bench/build_prior.py [--clive ../shared/data/clive]

Fits a ridge head on all 627 shared LIVE photos' MOS (mapped 0-100 -> 0-10) with the
prior's backbone, records its 10-fold cross-validated Spearman/Pearson, the source and the
licence in the head's metadata, and writes ``image_ranking.priors.PRIOR_HEAD``. The photos
never enter the repository; the head (a derived work) ships with LIVE-NOTICE.txt beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from bench.clive import CLIVE, OUT, embed_clive, load_clive  # noqa: E402
from image_ranking.priors import PRIOR_BACKBONE, PRIOR_HEAD  # noqa: E402
from image_ranking.services import embeddings as emb  # noqa: E402
from image_ranking.services import training  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clive", type=Path, default=CLIVE)
    parser.add_argument("--output", type=Path, default=PRIOR_HEAD)
    args = parser.parse_args()
    paths, mos = load_clive(args.clive)
    backbone = emb.get_backbone(PRIOR_BACKBONE)
    X = embed_clive(paths, backbone, emb.EmbeddingCache(OUT / "cache"))
    scores = training.cross_validate(X, list(mos), "score", folds=10)
    metadata = {
        "created_at": training.now_iso(),
        "source": "LIVE In the Wild Image Quality Challenge Database (627 photos, MOS)",
        "licence": "Derived from the LIVE database; see LIVE-NOTICE.txt beside this file.",
        "label_counts": {"scored": len(mos)},
        "cv_metrics": scores,
        "role": "prior",
    }
    head = training.fit_head(
        X, list(mos), "score", backbone.name, backbone.settings, (0.0, 100.0), metadata
    )
    sha256 = training.save_head(head, args.output)
    print(f"Wrote {args.output} ({args.output.stat().st_size} bytes, sha256 {sha256[:12]}).")
    print(f"10-fold on {len(mos)} photos: {scores}")


if __name__ == "__main__":
    main()
