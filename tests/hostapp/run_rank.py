"""Run in its own process by test_host_contract: migrate, add places, rank them.

Prints one JSON line with what ended up in the database.
"""

from __future__ import annotations

import json
import os
import sys

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.hostapp.settings"
django.setup()

from django.core.management import call_command  # noqa: E402

from image_ranking.management.commands.rank_poi_images import Command  # noqa: E402
from image_ranking.models import SelectedImage  # noqa: E402
from image_ranking.scoring import register  # noqa: E402
from tests.hostapp.models import Issue, Place, Town  # noqa: E402
from tests.image_ranking.ranking_helpers import BrightnessScorer  # noqa: E402

register("test-brightness")(BrightnessScorer)
call_command("migrate", verbosity=0)
call_command("check", fail_level="ERROR")
graz = Town.objects.create(label="Graz", code="graz")
Place.objects.create(town=graz, title="Clock Tower", qid="Q1030437")
Place.objects.create(town=graz, title="Nowhere Cafe")
command = Command()
call_command(command, "--all", "--city", "graz", verbosity=0)
summary = command.summary
print(
    json.dumps(
        {
            "summary": summary,
            "photos": {p.title: p.photo.name for p in Place.objects.order_by("pk")},
            "selected": list(SelectedImage.objects.values_list("title", flat=True)),
            "issues": list(Issue.objects.values_list("poi__title", "description")),
            "cities_imported": "cities" in sys.modules,
        }
    )
)
