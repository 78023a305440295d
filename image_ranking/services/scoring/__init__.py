"""Aesthetic scoring of image bytes on a 0-10 scale.

Backends register themselves by name; importing this package never imports torch
(models load lazily on first use). The full implementation comes with the scorer issue.
"""

from __future__ import annotations

from image_ranking.services.scoring.registry import available_scorers, register

__all__ = ["available_scorers", "register"]
