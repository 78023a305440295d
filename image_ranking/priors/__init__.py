"""The files of the priors that curators' labels adapt, and their paths (loaded by
``learning.priors``): the bundled quality head, or a LAION aesthetic head.

- The quality prior ships with the app: two runs of EfficientNet-Lite0 fine-tuned end to
  end on the LIVE photos' MOS (``efficientnet-lite0-live.pt``, ``-live-2.pt``), beside the
  ImageNet Lite2 (the ``efficientnet-lite0-live-lite2`` backbone), and one linear head on
  their features of those photos (the average of a ridge head per run), so the ``quality``
  scorer works on a fresh machine with no download and no labels. Built by
  ``bench/build_prior.py``; derived from the LIVE In the Wild database and from Apache-2.0
  ImageNet weights, so both notices (``LIVE-NOTICE.txt``, ``EFFICIENTNET-NOTICE.txt``)
  ship beside it.
- On a CLIP backbone, the LAION aesthetic head of the same encoder, when its weights are on
  this machine (never downloaded here). Those heads are affine maps of the L2-normalised
  embedding (the improved predictor's "MLP" has no activations), so each folds into one
  linear ``Head`` and the same adaptation applies.
"""

from __future__ import annotations

from pathlib import Path

PRIORS_DIR = Path(__file__).resolve().parent
PRIOR_BACKBONE = "efficientnet-lite0-live-lite2"
PRIOR_HEAD = PRIORS_DIR / f"quality-{PRIOR_BACKBONE}.json"
NOTICE = PRIORS_DIR / "LIVE-NOTICE.txt"
