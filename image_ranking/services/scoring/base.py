"""Scorer base class (contract; the scorer issue fills in decoding and backends).

A backend subclasses ``Scorer``, sets ``name``, implements ``version`` (changes whenever
its outputs would change: model, head file hash...), ``_load()`` (heavy imports and
weights, called once, lazily) and ``_score_batch(images)`` on decoded RGB PIL images.
``score_images`` decodes bytes, drops bad images (None, reason logged) and batches.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image


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

    def score_images(self, images: Sequence[bytes]) -> list[float | None]:
        raise NotImplementedError("filled in by the scorer issue")

    def score_image(self, image: bytes) -> float | None:
        return self.score_images([image])[0]
