"""Names the app exports for its hosts, importable without the app's models.

A host module (e.g. the host's duplicate merger) can compare against these even where
image_ranking is not installed, instead of hard-coding the app's strings.
"""

from __future__ import annotations

from django.db import models


class ChosenBy(models.TextChoices):
    """Who chose the image stored on a POI (``SelectedImage.chosen_by``)."""

    RANKER = "ranker", "Ranked automatically"
    CURATOR = "curator", "Chosen by a curator"
    FALLBACK = "fallback", "Category fallback"


# How much a stored image is worth keeping when two POIs merge: a curator's choice over
# a ranked photo over a category fallback.
IMAGE_PRIORITY: dict[str, int] = {ChosenBy.CURATOR: 3, ChosenBy.RANKER: 2, ChosenBy.FALLBACK: 1}
