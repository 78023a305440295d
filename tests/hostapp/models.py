"""A host app whose POI model names every field differently from ``cities``.

Used by tests/image_ranking/test_host_contract.py, in a process of its own
(``tests.hostapp.settings``), to show that image_ranking reads a host only through
``IMAGE_RANKING_POI_FIELDS`` and never imports ``cities``.
"""

from __future__ import annotations

from django.db import models


class Town(models.Model):
    label = models.CharField(max_length=100)
    code = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.label


class Place(models.Model):
    town = models.ForeignKey(Town, on_delete=models.CASCADE, related_name="places")
    title = models.CharField(max_length=200)
    photo = models.ImageField(upload_to="places/", blank=True)
    qid = models.CharField(max_length=20, blank=True)

    def __str__(self) -> str:
        return self.title


class Issue(models.Model):
    """The host's "problems for a person" model (the validation contract's fields)."""

    context = models.CharField(max_length=100)
    aggregate = models.CharField(max_length=100)
    description = models.TextField()
    poi = models.ForeignKey(Place, null=True, on_delete=models.CASCADE)
    resolved = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.description[:60]
