"""The host city guide: cities, their points of interest and curated lists."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import slugify

logger = logging.getLogger(__name__)

WIKIDATA_ID_RE = re.compile(r"^Q[1-9][0-9]*$")
ALLOWED_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}


def validate_wikidata_id(value: str) -> None:
    if value and not WIKIDATA_ID_RE.match(value):
        raise ValidationError(
            "%(value)s is not a Wikidata item id (expected 'Q' followed by digits, e.g. Q243).",
            params={"value": value},
            code="invalid_wikidata_id",
        )


def poi_image_path(instance: PointOfInterest, filename: str) -> str:
    """Where a POI's image is stored: ``cities/images/<city-slug>/<poi-id>-<name>-<rand>.<ext>``.

    The POI's slugged name keeps paths readable; a random suffix makes every upload a
    new file, so a new image never overwrites the old one before it is committed.
    """
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix not in ALLOWED_IMAGE_SUFFIXES:
        suffix = ".jpg"
    city_slug = instance.city.slug if instance.city_id else "unknown-city"
    stem = slugify(instance.name)[:60] or "poi"
    prefix = f"{instance.pk}-" if instance.pk else ""
    return f"cities/images/{city_slug}/{prefix}{stem}-{uuid.uuid4().hex[:12]}{suffix}"


class City(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    country = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name_plural = "cities"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PointOfInterest(models.Model):
    class Category(models.TextChoices):
        EAT = "eat", "Eat"
        SEE = "see", "See"
        SLEEP = "sleep", "Sleep"
        SHOP = "shop", "Shop"
        DRINK = "drink", "Drink"
        PLAY = "play", "Play"

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="pois")
    name = models.CharField(max_length=300)
    category = models.CharField(max_length=10, choices=Category.choices)
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    wikidata_id = models.CharField(
        max_length=20, blank=True, default="", validators=[validate_wikidata_id]
    )
    image_file = models.ImageField(upload_to=poi_image_path, max_length=500, blank=True)

    class Meta:
        verbose_name = "point of interest"
        verbose_name_plural = "points of interest"
        ordering = ["city", "name"]
        indexes = [models.Index(fields=["wikidata_id"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})" if self.city_id else self.name

    def delete_image_file(self, save: bool = True) -> None:
        """Remove the stored image file, if any; a file that is already gone is no error."""
        if not self.image_file:
            return
        name = self.image_file.name
        storage = self.image_file.storage
        try:
            storage.delete(name)
        except FileNotFoundError:
            pass
        except OSError:
            # Keep the reference: a file we failed to delete must stay findable.
            logger.exception("Could not delete image file %s of POI %s", name, self.pk)
            raise
        self.image_file = None
        if save and self.pk:
            self.save(update_fields=["image_file"])


class PoiListManager(models.Manager):
    """A list's name names its city (``__str__``): the city comes in the same query, so a
    page of lists (filters, admin choices) is one query however many lists there are."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("city")


class PoiList(models.Model):
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="poi_lists")
    name = models.CharField(max_length=200)
    pois = models.ManyToManyField(PointOfInterest, related_name="lists", blank=True)

    objects = PoiListManager()

    class Meta:
        verbose_name = "POI list"
        ordering = ["city", "name"]
        constraints = [
            models.UniqueConstraint(fields=["city", "name"], name="poilist_unique_name_per_city"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})"


class Validation(models.Model):
    """A data problem for a person to look at (e.g. a POI with no usable image)."""

    context = models.CharField(max_length=100, db_index=True)
    aggregate = models.CharField(max_length=100, db_index=True)
    description = models.TextField()
    city = models.ForeignKey(
        City, null=True, blank=True, on_delete=models.CASCADE, related_name="validations"
    )
    poi = models.ForeignKey(
        PointOfInterest,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="validations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"[{self.context}/{self.aggregate}] {self.description[:60]}"
