"""Scorer base class: decoding, batching, clamping; backends only score decoded images.

A backend subclasses ``Scorer``, sets ``name``, implements ``version`` (changes whenever
its outputs would change: model, head file hash...), ``_load()`` (heavy imports and
weights, called once, lazily) and ``_score_batch(images)`` on decoded RGB PIL images.
``score_images`` decodes bytes, drops bad images (None, reason logged) and batches.
"""

from __future__ import annotations

import logging
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError
from image_ranking.media.images import decode_image

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

SCORE_MIN = 0.0
SCORE_MAX = 10.0


def clamp_score(value: float) -> float | None:
    """A raw model output on the 0-10 scale; None for NaN/inf (a broken input or model)."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return min(SCORE_MAX, max(SCORE_MIN, value))


class Scorer(ABC):
    name: str = ""

    def __init__(self) -> None:
        self._loaded = False
        self._lock = threading.Lock()

    @property
    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _score_batch(self, images: list[Image]) -> list[float]: ...

    def ensure_loaded(self) -> None:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._load()
                    self._loaded = True

    def score_images(self, images: Sequence[bytes | None]) -> list[float | None]:
        """Scores on 0-10 for encoded images, None (reason logged) for unusable ones.

        Loads the model on first use (``ModelWeightsMissingError`` if it cannot); one bad
        image never fails the batch.
        """
        self.ensure_loaded()
        results: list[float | None] = [None] * len(images)
        decoded: list[tuple[int, Image]] = []
        for index, data in enumerate(images):
            image = decode_image(data, label=f"image {index + 1} of {len(images)}")
            if image is not None:
                decoded.append((index, image))
        size = max(1, int(conf.SCORE_BATCH_SIZE))
        for start in range(0, len(decoded), size):
            chunk = decoded[start : start + size]
            for (index, _image), raw in zip(chunk, self._score_safely(chunk), strict=True):
                results[index] = None if raw is None else clamp_score(raw)
                if raw is not None and results[index] is None:
                    logger.warning("%s gave a non-finite score for image %d", self.name, index + 1)
        return results

    def _score_safely(self, chunk: list[tuple[int, Image]]) -> list[float | None]:
        images = [image for _index, image in chunk]
        try:
            return list(self._score_batch(images))
        except ImageRankingError:
            raise  # configuration trouble (weights, head file): the same for every image
        except Exception:
            if len(images) == 1:
                logger.warning("%s could not score an image", self.name, exc_info=True)
                return [None]
            # Find the culprit: score one by one so the others still get their scores.
            logger.warning("%s failed on a batch; scoring its images one by one", self.name)
            return [self._score_safely([item])[0] for item in chunk]

    def score_image(self, image: bytes) -> float | None:
        return self.score_images([image])[0]
