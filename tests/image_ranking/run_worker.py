"""A ``rank_poi_images`` process for the concurrency test (and bench/bench_concurrent_runs.py).

``python -m tests.image_ranking.run_worker setup CITY N``: creates city CITY with N listed
POIs named ``CITY POI k``. ``python -m tests.image_ranking.run_worker rank ARGS...``:
prints ``ready``, waits for a line on stdin (so several workers start ranking together),
runs the command with the brightness scorer (or the one IMAGE_RANKING_SCORER names) and
prints its summary as JSON, with the names of the POIs it ranked. The database and the
Commons replica come from the environment (DATABASE_URL, IMAGE_RANKING_COMMONS_API_URL...).
"""

from __future__ import annotations

import io
import json
import os
import sys


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if argv[0] == "setup":
        return setup(argv[1], int(argv[2]))
    return rank(argv[1:])


def setup(slug: str, count: int) -> int:
    from cities.models import City, PoiList, PointOfInterest

    city = City.objects.create(name=slug.title(), slug=slug)
    plist = PoiList.objects.create(city=city, name="Best")
    for k in range(count):
        plist.pois.add(
            PointOfInterest.objects.create(city=city, name=f"{slug} POI {k}", category="see")
        )
    return 0


def rank(args: list[str]) -> int:
    from django.core.management import call_command

    from image_ranking import scoring
    from image_ranking.management.commands.rank_poi_images import Command
    from tests.image_ranking.ranking_helpers import BrightnessScorer

    if not os.environ.get("IMAGE_RANKING_SCORER"):  # a real model only when asked (bench)
        scorer = BrightnessScorer()
        scoring.get_scorer = lambda name=None: scorer
    print("ready", flush=True)
    sys.stdin.readline()
    out = io.StringIO()
    command = Command()
    call_command(command, *args, "-v", "2", stdout=out, stderr=io.StringIO())
    ranked = [line.split(" (id ")[0] for line in out.getvalue().splitlines() if " (id " in line]
    print(json.dumps({**command.summary, "ranked": ranked}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
