"""Optional CLIP check (``IMAGE_RANKING_RELEVANCE_CLIP_CHECK``): a map or a plan, or a photo?

When the scorer is CLIP-based (it has an ``encoder``, a ``ClipEncoder``), its text tower
compares each thumbnail with "a photo of NAME in CITY" and with "a map", "a floor plan",
"a coat of arms", "a logo", "a diagram": a file that looks most like one of those, with
at least ``MIN_SHARE`` of the probability, is dropped as not a photo. An extra signal
only: the default learned scorer has no text tower (the check is then skipped) and the
metadata and pixel checks run in every case.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

NOT_A_PHOTO_PROMPTS = ("a map", "a floor plan", "a coat of arms", "a logo", "a diagram")
# CLIP's logit scale for zero-shot classification.
LOGIT_SCALE = 100.0
# A not-a-photo prompt must take at least this share of the probability.
MIN_SHARE = 0.6


def text_encoder(scorer: Any) -> Any | None:
    """The scorer's CLIP encoder, or None when it has no text tower."""
    from image_ranking.scoring.clip import ClipEncoder

    encoder = getattr(scorer, "encoder", None)
    return encoder if isinstance(encoder, ClipEncoder) else None


def prompts(name: str, city: str) -> list[str]:
    place = f"{name} in {city}" if city else name
    return [f"a photo of {place}", *NOT_A_PHOTO_PROMPTS]


def reasons_from_shares(shares: np.ndarray, labels: Sequence[str]) -> list[dict[str, Any] | None]:
    """Per image, the details of a ``Drop.CLIP_NOT_PHOTO`` (what it looks like, and how
    sure), or None if it may be a photo: ``shares`` is ``(n, len(labels))`` probabilities,
    column 0 the photo prompt."""
    reasons: list[dict[str, Any] | None] = []
    for row in shares:
        best = int(np.argmax(row))
        if best > 0 and row[best] >= MIN_SHARE:
            reasons.append({"label": labels[best], "share": round(float(row[best]), 4)})
        else:
            reasons.append(None)
    return reasons


def check_images(
    encoder: Any, images: Sequence[Any], name: str, city: str
) -> list[dict[str, Any] | None]:
    """Per decoded image, why it is not a photo of the place (``reasons_from_shares``)."""
    if not images:
        return []
    import open_clip
    import torch

    labels = prompts(name, city)
    model, _ = encoder.load()
    tokenizer = open_clip.get_tokenizer(encoder.model_name)
    device = next(model.parameters()).device
    with torch.inference_mode():
        text = model.encode_text(tokenizer(labels).to(device)).float().cpu().numpy()
    pictures = encoder.embed(images)
    text /= np.linalg.norm(text, axis=1, keepdims=True).clip(1e-12)
    pictures = pictures / np.linalg.norm(pictures, axis=1, keepdims=True).clip(1e-12)
    logits = LOGIT_SCALE * pictures @ text.T
    logits -= logits.max(axis=1, keepdims=True)
    shares = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return reasons_from_shares(shares, labels)
