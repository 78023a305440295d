"""Benchmark (not a test): the relevance pipeline on a namesake city it was not tuned on.

    .venv/bin/python bench/bench_relevance_crosscheck.py [--pois 24] [--seed 11]

The city is ``bench/bench_gather.py``'s, written by another engineer for the candidate
search: generic names whose namesakes elsewhere (geotagged far away, categorised under
another city, or with no evidence at all) fill the first page of a name search, POIs
with a Commons category (a floor plan and a coat of arms in it), with files in a
subcategory, with depicts statements, with coordinates only, with a city name only,
unique names with plain photos, and POIs with nothing of their own. Every file is the
same grey, so looks cannot help: only relevance decides. Differences from that bench:
every POI belongs to the city (the host model requires one), so the coordinates-only
POIs have a city name too.

Prints the same table as ``bench_relevance.py``: the seed design (name search + P18,
the first usable file, as every file looks the same) next to ``rank_poi_images``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness  # noqa: E402

# Before bench_gather is imported: it sets Django up without a media folder of its own.
WORK = harness.setup("bench-crosscheck-")

from django.core.management import call_command  # noqa: E402

from bench import bench_gather as bg  # noqa: E402
from bench import bench_relevance as br  # noqa: E402
from image_ranking.commons import client as wikimedia  # noqa: E402
from image_ranking.models import SelectedImage  # noqa: E402
from tests.image_ranking.ranking_helpers import BrightnessScorer  # noqa: E402


class Truth:
    """Which files show which POI, in the shape ``bench_relevance.measure`` reads."""

    def __init__(self, scenario: bg.Scenario) -> None:
        names = {p.pk: p.name for p in scenario.pois}
        self.own = {names[pk]: titles for pk, titles in scenario.own.items()}

    def with_photo(self) -> set[str]:
        return {name for name, titles in self.own.items() if titles}

    def shows(self, title: str, name: str) -> bool:
        return title in self.own.get(name, ())


def city_json(scenario: bg.Scenario) -> dict:
    pois = []
    for p in scenario.pois:
        entry = {"name": p.name, "category": "see"}
        if p.wikidata_id:
            entry["wikidata_id"] = p.wikidata_id
        if p.coordinates:
            entry.update(latitude=p.latitude, longitude=p.longitude)
        pois.append(entry)
    return {
        "city": {"name": bg.CITY, "slug": "aldmere", "country": "Nowhere"},
        "pois": pois,
        "lists": [{"name": "Essentials", "pois": [p.name for p in scenario.pois]}],
    }


def seed_design(scenario: bg.Scenario) -> tuple[dict[str, str], int]:
    """Name search + P18, the first usable file (all score the same), its formula cost."""
    client = wikimedia.CommonsClient()
    found = bg.seed_design(client, scenario.pois)
    chosen, requests = {}, 0
    for poi in scenario.pois:
        results = found[poi.pk]
        searched = [c for c in results if c.source != "wikidata"]
        requests += 1 + len(searched) + (1 if searched else 0)
        kept = [c for c in results if not wikimedia.filter_drop(replace(c, categories=()))[0]]
        if kept:
            chosen[poi.name] = kept[0].title
    return chosen, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pois", type=int, default=24)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    scenario, replica = bg.build(args.pois, args.seed)
    harness.point_at(replica, BrightnessScorer())
    city_file = WORK / "crosscheck.json"
    city_file.write_text(json.dumps(city_json(scenario)), encoding="utf-8")
    call_command("load_city", str(city_file), stdout=io.StringIO())

    truth, pois = Truth(scenario), len(scenario.pois)
    seed_chosen, seed_requests = seed_design(scenario)
    before = len(replica.requests)
    first = br.rank("--missing-only")
    ours_requests = len(replica.requests) - before
    stored = dict(SelectedImage.objects.values_list("poi__name", "title"))
    sha1s = {title: f.sha1 for title, f in replica.files.items()}
    seed, ours = br.measure(truth, seed_chosen, sha1s), br.measure(truth, stored, sha1s)
    print(
        f"{pois} POIs ({', '.join(sorted(set(scenario.kinds.values())))}), "
        f"{len(replica.files)} files, {len(truth.with_photo())} POIs with a photo of them"
    )
    print(
        "| design                       | stored | precision | coverage | two POIs  "
        "| requests/POI |"
    )
    print("|---|---|---|---|---|---|")
    br.row("seed (name search, first)", seed, seed_requests, pois)
    br.row("relevance pipeline, 1st run", ours, ours_requests, pois)
    print(f"first run: {first['updated_count']} stored, {first['no_image_count']} no image")
    for name in ours["wrong"]:
        print(f"  pipeline wrong: {name}")
    for name in ours["missed"]:
        print(f"  pipeline missed: {name} ({scenario.kinds[_pk(scenario, name)]})")
    replica.close()


def _pk(scenario: bg.Scenario, name: str) -> int:
    return next(p.pk for p in scenario.pois if p.name == name)


if __name__ == "__main__":
    main()
