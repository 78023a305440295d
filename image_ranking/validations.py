"""The "no suitable image" report: one open host Validation per POI, resolved later.

The host's validation model is ``IMAGE_RANKING_VALIDATION_MODEL`` (fields context,
aggregate, description, poi, city, resolved). A re-run updates the open report's
description instead of adding another one.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Model

from image_ranking import get_validation_model
from image_ranking.poi import get_poi_adapter

CONTEXT = "image_ranking"
AGGREGATE = "no_images"


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
