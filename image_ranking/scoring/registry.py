"""Registry of scorer backends, by name. Torch-free: backends are imported lazily."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Built-in backends as dotted paths so that listing them imports no model code.
BUILTIN_BACKENDS: dict[str, str] = {
    "laion-vit-l-14": "image_ranking.scoring.laion.LaionViTL14Scorer",
    "laion-vit-b-32": "image_ranking.scoring.laion.LaionViTB32Scorer",
    "learned": "image_ranking.scoring.learned.LearnedScorer",
    "quality": "image_ranking.scoring.quality.QualityScorer",
}

_REGISTRY: dict[str, Callable[[], Any]] = {}


def register(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Class decorator: ``@register("my-scorer")`` makes a backend selectable by name."""

    def decorator(factory: Callable[[], Any]) -> Callable[[], Any]:
        _REGISTRY[name] = factory
        return factory

    return decorator


def available_scorers() -> list[str]:
    return sorted(set(BUILTIN_BACKENDS) | set(_REGISTRY))
