"""Benchmark (not a test): Wikimedia requests per POI, first run and re-run.

    .venv/bin/python bench/bench_request_budget.py [--top-k K] [--small-places 67]

Without ``--top-k`` it measures the app's default ``IMAGE_RANKING_SCORE_TOP_K``.

Serves the realistic Paris scenario of ``bench/scenario_paris.py`` (99 listed POIs:
landmarks with full result pages full of maps, PDFs, logos, tiny scans and shared views;
restaurants and shops with a few results; neighbourhood places with none) from the loopback
Commons replica of the test suite, and runs ``manage.py rank_poi_images`` over it with the
real Commons client and a brightness scorer (the model does not change the request count).
Prints requests per POI and POIs per hour at 500 requests/hour for the first run
(``--missing-only``) and for a re-run with ``--all`` where nothing changed, against the
spec's design (1 search + a thumbnail per result + 1 original per POI).
Everything happens in a temporary database and media folder.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="bench-budget-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ["MEDIA_ROOT"] = str(WORK / "media")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["IMAGE_RANKING_USER_AGENT"] = "image_ranking-bench/0.1 (bench; nobody@example.org)"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench import scenario_paris  # noqa: E402
from image_ranking import scoring  # noqa: E402
from image_ranking.conf import conf  # noqa: E402
from tests.commons_replica import CommonsReplica  # noqa: E402
from tests.image_ranking.ranking_helpers import BrightnessScorer  # noqa: E402

RATE = 500


def serve(scenario: scenario_paris.Scenario) -> CommonsReplica:
    replica = CommonsReplica()
    for f in scenario.files.values():
        b = f.brightness
        color = (b, max(0, b - 40), min(255, b + 20))
        replica.add_file(f.title, size=(f.width, f.height), mime=f.mime, color=color)
    for name, titles in scenario.searches.items():
        replica.set_search(name, titles)
    for qid, title in scenario.wikidata.items():
        replica.set_wikidata(qid, title)
    return replica


def rank(*args: str) -> dict:
    return call_command("rank_poi_images", *args, stdout=io.StringIO(), stderr=io.StringIO())


def line(label: str, requests: int, pois: int) -> None:
    per_poi = requests / pois
    print(
        f"{label:<34}{requests:>6} requests  {per_poi:5.2f} per POI  "
        f"{RATE / per_poi if per_poi else float('inf'):7.0f} POIs/hour at {RATE}/h"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="IMAGE_RANKING_SCORE_TOP_K (default: the app's setting; 0 scores every candidate)",
    )
    parser.add_argument("--small-places", type=int, default=67)
    args = parser.parse_args()

    scenario = scenario_paris.build(extra_small_places=args.small_places)
    replica = serve(scenario)
    settings.IMAGE_RANKING_COMMONS_API_URL = replica.api_url
    settings.IMAGE_RANKING_WIKIDATA_API_URL = replica.wikidata_url
    # The API host and the thumbnail host, as the default list has both Wikimedia hosts.
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1", replica.thumb_host]
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 10_000_000.0  # count requests, not hours
    settings.IMAGE_RANKING_RATE_LIMIT_BURST = 10_000
    if args.top_k is not None:  # otherwise measure what the app does by default
        settings.IMAGE_RANKING_SCORE_TOP_K = args.top_k
    scorer = BrightnessScorer()
    scoring.get_scorer = lambda name=None: scorer

    call_command("migrate", verbosity=0)
    city_file = scenario.write_city_json(WORK / "paris-scenario.json")
    call_command("load_city", str(city_file), stdout=io.StringIO())

    pois = len(scenario.poi_names)
    spec = scenario.spec_requests()
    first = rank("--missing-only")
    rerun = rank("--all")
    refreshed = rank("--all", "--refresh")  # as when the candidate cache has expired
    first_requests, rerun_requests = first["request_count"], rerun["request_count"]
    downloads = [p for p in replica.download_requests]
    print(
        f"{pois} listed POIs, {len(scenario.files)} Commons files, {len(scenario.wikidata)} "
        f"Wikidata P18 images; SCORE_TOP_K={conf.SCORE_TOP_K or 'all'}"
    )
    line("spec design (search+thumbs+orig)", spec, pois)
    line("first run (--missing-only)", first_requests, pois)
    line("re-run (--all, nothing changed)", rerun_requests, pois)
    line("re-run (--all --refresh)", refreshed["request_count"], pois)
    print(f"first run / spec                  {first_requests / spec:.2f}x  (target <= 0.65x)")
    print(
        f"re-run per POI                    {rerun_requests / pois:.2f} cached, "
        f"{refreshed['request_count'] / pois:.2f} refreshed  (target <= 1.5)"
    )
    print(
        f"first run: {first['updated_count']} stored, {first['no_image_count']} without a "
        f"suitable image, {first['failed_count']} failed; {len(downloads)} thumbnail downloads, "
        f"{sum('/thumb/' not in d for d in downloads)} originals"
    )
    replica.close()


if __name__ == "__main__":
    main()
