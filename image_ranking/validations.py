"""The "no suitable image" report: one open host Validation per POI, resolved later.

The host's validation model is ``IMAGE_RANKING_VALIDATION_MODEL``, with the fields in
``FIELDS`` (checked by ``manage.py check``, image_ranking.E010) and optionally ``city``. A
re-run updates the open report's description instead of adding another one.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.db.models import Model

from image_ranking import get_poi_model, get_validation_model
from image_ranking.poi import get_poi_adapter

CONTEXT = "image_ranking"
AGGREGATE = "no_images"
# The fields a report is written with, and the kinds of field each may be.
TEXT = (models.CharField, models.TextField)
FIELDS: dict[str, tuple[type[models.Field], ...]] = {
    "context": TEXT,
    "aggregate": TEXT,
    "description": (models.TextField,),  # a sentence that may run long
    "poi": (models.ForeignKey,),
    "resolved": (models.BooleanField,),
}


def problems(model: type[Model]) -> list[str]:
    """What keeps ``model`` from holding the reports ([] if nothing does)."""
    found = []
    for name, kinds in FIELDS.items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            found.append(f"{model.__name__} has no field {name!r}")
            continue
        if not isinstance(field, kinds):
            wanted = " or ".join(kind.__name__ for kind in kinds)
            found.append(f"{model.__name__}.{name} is a {type(field).__name__}, not a {wanted}")
        elif name == "poi" and field.related_model is not get_poi_model():
            found.append(f"{model.__name__}.poi does not point at the POI model")
    return found


def _open_reports(poi: Model):
    return get_validation_model()._default_manager.filter(
        context=CONTEXT, aggregate=AGGREGATE, poi=poi, resolved=False
    )


def report_no_image(poi: Model, description: str) -> Model:
    """Open (or refresh) the POI's single "no suitable image" report."""
    validation_model = get_validation_model()
    with transaction.atomic():
        # Lock the POI row so two processes never both create a report for it.
        list(type(poi)._default_manager.select_for_update().filter(pk=poi.pk).values_list("pk"))
        existing = list(_open_reports(poi).order_by("pk"))
        if existing:
            report = existing[0]
            if report.description != description:
                report.description = description
                report.save(update_fields=["description"])
            # Duplicates from before this rule existed: keep one open report.
            for extra in existing[1:]:
                extra.resolved = True
                extra.save(update_fields=["resolved"])
            return report
        fields = {
            "context": CONTEXT,
            "aggregate": AGGREGATE,
            "description": description,
            "poi": poi,
        }
        field_names = {f.name for f in validation_model._meta.get_fields()}
        if "city" in field_names:
            fields["city"] = get_poi_adapter().city(poi)
        return validation_model._default_manager.create(**fields)


def resolve_no_image(poi: Model) -> int:
    """Mark the POI's open "no suitable image" reports resolved; returns how many."""
    return _open_reports(poi).update(resolved=True)
