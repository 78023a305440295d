"""Aesthetic scoring of image bytes on a 0-10 scale.

``get_scorer()`` returns the backend named by ``IMAGE_RANKING_SCORER`` (or the name
given), one instance per process and configuration so that its model loads once, lazily,
on first use. Importing this package never imports torch.
"""

from __future__ import annotations

import threading

from django.utils.module_loading import import_string

from image_ranking.conf import conf
from image_ranking.exceptions import UnknownScorerError
from image_ranking.scoring.base import Scorer
from image_ranking.scoring.registry import (
    _REGISTRY,
    BUILTIN_BACKENDS,
    available_scorers,
    register,
)

__all__ = [
    "Scorer",
    "available_scorers",
    "clear_scorers",
    "get_scorer",
    "register",
    "score_images",
]

_instances: dict[tuple, Scorer] = {}
_instances_lock = threading.Lock()


def _instance_key(name: str) -> tuple:
    # A settings change (tests, a long-lived shell) must not keep serving the old model,
    # nor must a newly activated head (manage.py heads activate): no restart needed.
    head = str(conf.LEARNED_HEAD)
    if name == "learned" and not conf.LEARNED_HEAD:
        from image_ranking.scoring.learned import active_head_file

        head = str(active_head_file())
    return (name, str(conf.WEIGHTS_DIR), head, conf.DEVICE, conf.PRECISION)


def get_scorer(name: str | None = None) -> Scorer:
    """The scorer backend ``name`` (default: ``IMAGE_RANKING_SCORER``), shared per process."""
    name = name or conf.SCORER
    key = _instance_key(name)
    with _instances_lock:
        scorer = _instances.get(key)
        if scorer is None:
            if name in _REGISTRY:
                factory = _REGISTRY[name]
            elif name in BUILTIN_BACKENDS:
                factory = import_string(BUILTIN_BACKENDS[name])
            else:
                raise UnknownScorerError(
                    f"Unknown scorer {name!r} (IMAGE_RANKING_SCORER); choose one of: "
                    f"{', '.join(available_scorers())}."
                )
            scorer = _instances[key] = factory()
        return scorer


def clear_scorers() -> None:
    """Forget the loaded scorers (tests; a process that changed its settings)."""
    with _instances_lock:
        _instances.clear()
