"""Benchmark (not a test): do stored images show the right POI? Namesakes, plans, shared photos.

    .venv/bin/python bench/bench_relevance.py

Serves ``bench/scenario_namesakes.py`` (Aldmere, 30 POIs whose names are shared with
better-looking places elsewhere) from the loopback Commons replica of the test suite,
which searches like CirrusSearch, and runs ``manage.py rank_poi_images`` over it with
the real Commons client and a brightness scorer (a stand-in for good looks: namesakes
and plans are brighter than the POI's own photos). Prints, next to the seed's design
on the same scenario (name search + the Wikidata image, best-looking file stored):

- precision: the share of stored images that show the right POI (a photo of it);
- coverage: the share of POIs with a photo of them on Commons that got one;
- files stored for two POIs;
- requests per POI (first run; re-run with --all where nothing changed).

The scenario is Aldmere as real Commons describes it (issue 21: geotagged photos with
the hidden "Pages with maps", photo categories with filter words, thumbnails on a second
host); ``--ideal`` serves it as first written, in the replica's old shapes.

The seed design's requests are its formula (1 search + a thumbnail per result (<= 10)
+ 1 original when there is any result), as in bench_request_budget.py.
Everything happens in a temporary database and media folder.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness  # noqa: E402

WORK = harness.setup("bench-relevance-")

from django.core.management import call_command  # noqa: E402

from bench import scenario_namesakes  # noqa: E402
from image_ranking.commons import client as wikimedia  # noqa: E402
from image_ranking.conf import conf  # noqa: E402
from image_ranking.models import ImageCandidate, SelectedImage  # noqa: E402
from tests.commons_replica import CommonsReplica  # noqa: E402
from tests.image_ranking.ranking_helpers import BrightnessScorer  # noqa: E402

SEARCH_LIMIT = 10
# The seed's metadata filter: words in a file's title (it never read categories).
SEED_TITLE_WORDS = re.compile(
    r"\b(maps?|locator|location map|plans?|floor ?plans?|grundriss|karte|carte|mapa|plano|"
    r"logos?|flags?|flagge|drapeau|bandera|coat of arms|wappen|blason|escudo|emblem|seal|"
    r"diagrams?|schema|scheme|chart|signatures?|unterschrift|icon|"
    r"drawings?|blueprints?|engravings?|sketch(?:es)?)\b",
    re.IGNORECASE,
)
RASTER = ("image/jpeg", "image/png", "image/gif", "image/webp")


def seed_keeps(c) -> bool:
    """The seed's filters: a raster file, no plan/map/logo word in its title, wide enough,
    not a strip, with a thumbnail."""
    if c.mime not in RASTER or SEED_TITLE_WORDS.search(c.title.replace("_", " ")):
        return False
    width, height = c.width or 0, c.height or 0
    if width and width < conf.MIN_IMAGE_WIDTH:
        return False
    if width and height and max(width / height, height / width) > conf.MAX_ASPECT_RATIO:
        return False
    return bool(c.thumbnail_url)


def serve(scenario: scenario_namesakes.Scenario, real_shapes: bool = True) -> CommonsReplica:
    replica = CommonsReplica(real_shapes=real_shapes)
    for f in scenario.files.values():
        served = replica.add_file(
            f.title,
            size=f.size,
            mime=f.mime,
            color=(f.brightness,) * 3,
            categories=list(f.categories),
            description=f.description,
            gps=f.gps,
            assessments=list(f.assessments),
            depicts=list(f.depicts),
        )
        served.thumbs[scenario_namesakes.THUMB_WIDTH] = f.thumbnail()
    for p in scenario.pois:
        if p.qid:
            replica.set_wikidata(
                p.qid,
                p.p18 or None,
                category=p.commons_category or None,
                coordinates=p.coordinates,
                label=p.name,
            )
    return replica


def rank(*args: str) -> dict:
    return call_command("rank_poi_images", *args, stdout=io.StringIO(), stderr=io.StringIO())


def seed_design(scenario, replica, scorer) -> tuple[dict[str, str], int]:
    """The seed's choice per POI (name search + P18, metadata title/size filters, the
    best-scoring thumbnail at or above the threshold) and its request formula."""
    client = wikimedia.CommonsClient(thumb_width=conf.RANKING_THUMBNAIL_WIDTH)
    chosen: dict[str, str] = {}
    requests = 0
    for poi in scenario.pois:
        found = client.search(poi.name, SEARCH_LIMIT)
        requests += 1 + len(found) + (1 if found else 0)
        p18 = list(client.image_info([poi.p18]).values()) if poi.p18 else []
        # The seed's metadata filters read titles, types and sizes, never categories.
        kept = [c for c in (*p18, *found) if seed_keeps(c)]
        scores = scorer.score_images([scenario.files[c.title].thumbnail() for c in kept])
        best = max(zip(scores, (c.title for c in kept), strict=True), default=None)
        if best is not None and best[0] >= conf.SCORE_THRESHOLD:
            chosen[poi.name] = best[1]
    return chosen, requests


def measure(scenario, chosen: dict[str, str], sha1s: dict[str, str]) -> dict[str, float]:
    with_photo = scenario.with_photo()
    right = [name for name, title in chosen.items() if scenario.shows(title, name)]
    covered = {name for name in right if name in with_photo}
    shared = sum(1 for n in Counter(sha1s[t] for t in chosen.values()).values() if n > 1)
    return {
        "stored": len(chosen),
        "right": len(right),
        "precision": len(right) / len(chosen) if chosen else 1.0,
        "coverage": len(covered) / len(with_photo),
        "two_pois": shared,
        "wrong": sorted(f"{n} <- {t}" for n, t in chosen.items() if n not in right),
        "missed": sorted(with_photo - covered),
    }


def row(label: str, m: dict, requests: float, pois: int) -> None:
    print(
        f"| {label:<28} | {m['stored']:>6} | {m['precision']:>9.2f} | {m['coverage']:>8.2f} "
        f"| {m['two_pois']:>9} | {requests / pois:>12.2f} |"
    )


def print_details(first, rerun, refreshed, pois: int, ours_requests: int, seed, ours) -> None:
    """Re-run costs, the first run's counts, and every wrong or missed POI of both designs."""
    print(
        f"re-run --all, nothing changed: {rerun['request_count']} requests, "
        f"{rerun['request_count'] / pois:.2f} per POI, {rerun['updated_count']} updated "
        f"(target <= 1.5)"
    )
    print(
        f"re-run --all --refresh (cache expired): {refreshed['request_count']} requests, "
        f"{refreshed['request_count'] / pois:.2f} per POI, {refreshed['updated_count']} updated"
    )
    print(
        f"first run: {first['updated_count']} stored, {first['no_image_count']} no image, "
        f"{first['failed_count']} failed; requests counted by the client "
        f"{first['request_count']}, by the replica {ours_requests}"
    )
    print(
        "targets: precision >= 0.95, coverage >= 0.85, no file on two POIs, "
        "requests/POI <= the seed's"
    )
    for label, m in (("seed", seed), ("pipeline", ours)):
        for line in m["wrong"]:
            print(f"  {label} wrong: {line}")
        for name in m["missed"]:
            print(f"  {label} missed: {name}")
    dropped = Counter(
        ImageCandidate.objects.exclude(relevance="").values_list("relevance", flat=True)
    )
    print(f"candidates by verdict: {dict(sorted(dropped.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ideal", action="store_true", help="the scenario in the old shapes")
    real = not parser.parse_args().ideal
    scenario = scenario_namesakes.build(real_shapes=real)
    replica = serve(scenario, real_shapes=real)
    scorer = BrightnessScorer()
    harness.point_at(replica, scorer)
    city_file = scenario_namesakes.write_city_json(scenario, WORK / "aldmere.json")
    call_command("load_city", str(city_file), stdout=io.StringIO())

    pois = len(scenario.pois)
    before = len(replica.requests)
    first = rank("--missing-only")
    ours_requests = len(replica.requests) - before
    rerun = rank("--all")
    refreshed = rank("--all", "--refresh")  # as when the candidate cache has expired
    stored = {
        s.poi.name: s.title
        for s in SelectedImage.objects.select_related("poi").exclude(chosen_by="fallback")
    }
    sha1s = {f.title: replica.files[f.title].sha1 for f in scenario.files.values()}
    ours = measure(scenario, stored, sha1s)
    seed_chosen, seed_requests = seed_design(scenario, replica, scorer)
    seed = measure(scenario, seed_chosen, sha1s)

    print(
        f"{pois} POIs in {scenario_namesakes.CITY}, {len(scenario.files)} Commons files, "
        f"{len(scenario.with_photo())} POIs with a photo of them on Commons; "
        f"threshold {conf.SCORE_THRESHOLD}, SCORE_TOP_K={conf.SCORE_TOP_K or 'all'}"
    )
    print(
        "| design                       | stored | precision | coverage | two POIs  "
        "| requests/POI |"
    )
    print("|---|---|---|---|---|---|")
    row("seed (name search, best look)", seed, seed_requests, pois)
    row("relevance pipeline, 1st run", ours, ours_requests, pois)
    print_details(first, rerun, refreshed, pois, ours_requests, seed, ours)
    replica.close()


if __name__ == "__main__":
    main()
