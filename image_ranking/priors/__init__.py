"""The quality prior that ships with the app: a head fitted on the LIVE photos' MOS.

It lets the ``quality`` scorer work on a fresh machine with no download and no labels,
and is what ``train_ranker`` adapts curators' labels from. Built by
``bench/build_prior.py``; derived from the LIVE In the Wild database, so its copyright
notice (``LIVE-NOTICE.txt``) ships beside it.
"""

from __future__ import annotations

from pathlib import Path

PRIORS_DIR = Path(__file__).resolve().parent
PRIOR_BACKBONE = "efficientnet-lite0"
PRIOR_HEAD = PRIORS_DIR / f"quality-{PRIOR_BACKBONE}.json"
NOTICE = PRIORS_DIR / "LIVE-NOTICE.txt"


def bundled_prior_path(backbone: str | None = None) -> Path | None:
    """The bundled prior head for ``backbone`` (default: the prior's own), if one ships."""
    if backbone not in (None, PRIOR_BACKBONE) or not PRIOR_HEAD.is_file():
        return None
    return PRIOR_HEAD
