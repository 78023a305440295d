"""Loading the prior curators' labels adapt: a head file, the bundled quality head, or the
LAION aesthetic head of a CLIP backbone folded into one linear ``Head`` (the files and
their paths live in ``image_ranking/priors/``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from image_ranking.exceptions import ModelWeightsMissingError
from image_ranking.learning.fitting import TrainingError
from image_ranking.priors import PRIOR_BACKBONE, PRIOR_HEAD
from image_ranking.scoring.heads import Head, load_head

logger = logging.getLogger(__name__)

# CLIP backbone -> the LAION head used as its prior.
LAION_PRIORS = {
    "laion-vit-b-32": "sa_0_4_vit_b_32_linear",
    "laion-vit-l-14": "sac+logos+ava1-l14-linearMSE",
}


def bundled_prior_path(backbone: str | None = None) -> Path | None:
    """The bundled prior head for ``backbone`` (default: the prior's own), if one ships."""
    if backbone not in (None, PRIOR_BACKBONE) or not PRIOR_HEAD.is_file():
        return None
    return PRIOR_HEAD


def collapse_affine(module: Any, dim: int) -> tuple[np.ndarray, float]:
    """``(coef, intercept)`` of a torch module that is affine in its ``dim`` inputs.

    Raises ValueError if it is not affine (a head with activations cannot be folded).
    """
    import torch

    with torch.inference_mode():
        intercept = module(torch.zeros(1, dim)).reshape(-1)
        coef = module(torch.eye(dim)).reshape(-1) - intercept
        probe = torch.randn(4, dim, generator=torch.Generator().manual_seed(0))
        expected = probe @ coef + intercept
        if not torch.allclose(module(probe).reshape(-1), expected, rtol=1e-3, atol=1e-4):
            raise ValueError("The head is not affine; it cannot serve as a linear prior.")
    return coef.double().numpy(), float(intercept[0])


def laion_prior(backbone: str, spec: Any = None) -> Head | None:
    """The LAION head of a CLIP backbone as a linear ``Head``, or None if not on this machine."""
    from image_ranking.scoring.embeddings import get_backbone
    from image_ranking.scoring.laion import HEADS, AestheticHead
    from image_ranking.scoring.weights import head_path

    if spec is None:
        if backbone not in LAION_PRIORS:
            return None
        spec = HEADS[LAION_PRIORS[backbone]]
    try:
        head = AestheticHead(spec, head_path(spec, download=False))
    except ModelWeightsMissingError as exc:
        logger.info("No LAION prior for %s: %s", backbone, exc)
        return None
    coef, intercept = collapse_affine(head.module, spec.embed_dim)
    return Head(
        backbone=backbone,
        backbone_settings=get_backbone(backbone).settings,
        target="score",
        mean=np.zeros(spec.embed_dim),
        scale=np.ones(spec.embed_dim),
        coef=coef,
        intercept=intercept,
        calibration={"kind": "linear", "low": 0.0, "high": 10.0},
        metadata={"role": "prior", "source": f"LAION aesthetic head {spec.filename}"},
    )


def load_prior(backbone: str, path: Path | str | None = None) -> tuple[Head, str] | None:
    """The prior for ``backbone`` and a name for it: ``path`` if given (a head file written
    by train_ranker), else the bundled head or the LAION head of that backbone, else None.
    """
    if path is not None:
        head, sha256 = load_head(path)
        if head.backbone != backbone:
            raise TrainingError(
                f"The prior {path} is a head on {head.backbone}, not on {backbone}; "
                f"train with --backbone {head.backbone} or choose another prior."
            )
        return head, f"{Path(path).name} (sha256 {sha256[:12]})"
    bundled = bundled_prior_path(backbone)
    if bundled is not None:
        head, sha256 = load_head(bundled)
        return head, f"bundled quality prior (sha256 {sha256[:12]})"
    head = laion_prior(backbone)
    return (head, str(head.metadata["source"])) if head is not None else None
