"""Benchmark (not a test): what candidate gathering finds, and at what request cost.

    .venv/bin/python bench/bench_gather.py [--pois 30] [--seed 11]

Serves a city of generic POI names ("Old Bridge", "Town Hall", "Clock Tower"...) whose
better-known namesakes elsewhere fill the first page of a name search (geotagged far
away, categorised under another city, or with no evidence at all), from the loopback
Commons replica. POIs come in the kinds a real guide has: Wikidata items with a Commons
category (plans and coats of arms in it too), items whose files sit in subcategories,
POIs with coordinates only, with a city name only, unique names with unannotated photos,
and POIs with nothing of their own on Commons. Compares the seed design (one name
search, plus the P18 image) with ``CommonsClient.gather`` on:

- API requests per POI (thumbnails and originals are the ranking's: not counted here);
- coverage: of the POIs with a usable photo of their own on Commons, the share whose
  candidates include one (and include one in the first five, which is what gets scored);
- purity: the share of usable candidates that show the POI.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="bench-gather-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["IMAGE_RANKING_USER_AGENT"] = "image_ranking-bench/0.1 (bench; nobody@example.org)"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from image_ranking.commons.client import CommonsClient  # noqa: E402
from image_ranking.commons.records import Candidate  # noqa: E402
from image_ranking.poi import PoiInfo  # noqa: E402
from tests.commons_replica import CommonsReplica  # noqa: E402

CITY, HOME = "Aldmere", (52.0907, 5.1214)
ELSEWHERE = {"Boston": (42.3601, -71.0589), "Vienna": (48.2082, 16.3738), "Lisbon": (38.72, -9.14)}
GENERIC = [
    "Old Bridge", "Town Hall", "Clock Tower", "Grand Hotel", "Cafe Central", "Market Hall",
    "City Museum", "Old Mill", "Opera House", "Central Station", "Castle Park", "Main Square",
    "St Mary's Church", "Harbour Lighthouse", "Botanical Garden", "Water Tower", "Old Prison",
    "Stone Gate", "Royal Theatre", "Fish Market",
]  # fmt: skip
UNIQUE = ["Vossemeer Windmill", "Kreelhof Abbey", "Duinrand Pavilion", "Haverkamp Brewery"]
KINDS = ["category", "category", "subcategory", "depicts", "coordinates", "city", "nothing"]


@dataclass
class Scenario:
    pois: list[PoiInfo] = field(default_factory=list)
    own: dict[int, set[str]] = field(default_factory=dict)  # usable photos of each POI
    kinds: dict[int, str] = field(default_factory=dict)


def namesakes(r: CommonsReplica, rng: random.Random, name: str) -> None:
    """A full page and more of better-known namesakes, added first so they rank first."""
    for n in range(12):
        place = rng.choice(list(ELSEWHERE))
        evidence = rng.random()
        title = f"File:{name} {n + 1:02d}.jpg"
        if evidence < 0.4:
            lat, lon = ELSEWHERE[place]
            r.add_file(title, gps=(lat + rng.uniform(-0.01, 0.01), lon), categories=[place])
        elif evidence < 0.8:
            r.add_file(title, categories=[f"{name} ({place})", f"Buildings in {place}"])
        else:
            r.add_file(title)  # no evidence either way


def own_files(r, rng, name: str, pk: int, kind: str, qid: str) -> set[str]:
    titles, category = set(), f"{name} ({CITY})"
    for n in range(rng.randint(3, 6)):
        title = (
            f"File:{name} {CITY} {pk}-{n}.jpg" if rng.random() < 0.6 else f"File:DSC{pk}{n:03d}.jpg"
        )
        extra: dict = {}
        if kind in ("category", "depicts"):
            extra["categories"] = [category]
        elif kind == "subcategory":
            extra["categories"] = [f"{name} ({CITY}) - exterior"]
            extra["description"] = f"{name} in {CITY}"
        elif kind == "city":
            extra["categories"] = [f"Buildings in {CITY}"]
            extra["description"] = f"The {name.lower()}"
        elif kind == "coordinates":
            extra["gps"] = (HOME[0] + rng.uniform(-0.005, 0.005), HOME[1])
            extra["description"] = name
        if kind == "depicts":
            extra["depicts"] = [qid]
        r.add_file(title, **extra)
        titles.add(title)
    if kind in ("category", "subcategory"):  # not photos, in the POI's own category
        r.add_file(f"File:Floor plan {pk}.jpg", categories=[category, "Floor plans"])
        r.add_file(f"File:Coat of arms {pk}.png", mime="image/png", categories=[category])
    return titles


def build(count: int, seed: int) -> tuple[Scenario, CommonsReplica]:
    rng, r, s = random.Random(seed), CommonsReplica(), Scenario()
    generic = rng.sample(GENERIC, min(count - len(UNIQUE), len(GENERIC)))
    for pk, name in enumerate(generic, start=1):
        kind = KINDS[pk % len(KINDS)]
        qid = f"Q{7000 + pk}"
        namesakes(r, rng, name)
        s.own[pk] = set() if kind == "nothing" else own_files(r, rng, name, pk, kind, qid)
        has_item = kind in ("category", "subcategory", "depicts")
        if kind in ("category", "subcategory"):
            r.set_wikidata(qid, sorted(s.own[pk])[0], category=f"{name} ({CITY})")
        elif kind == "depicts":
            r.set_wikidata(qid)
        coords = HOME if kind in ("coordinates", "category") else (None, None)
        city = "" if kind == "coordinates" else CITY
        s.pois.append(PoiInfo(pk, name, qid if has_item else "", city, *coords))
        s.kinds[pk] = kind
    for pk, name in enumerate(UNIQUE, start=len(generic) + 1):
        s.own[pk] = {f"File:{name} {n}.jpg" for n in range(3)}
        for title in sorted(s.own[pk]):
            r.add_file(title)  # plain photos: no geotag, no category
        s.pois.append(PoiInfo(pk, name, "", CITY))
        s.kinds[pk] = "unique"
    return s, r


def seed_design(client: CommonsClient, pois: list[PoiInfo]) -> dict[int, list[Candidate]]:
    """One name search per POI, the P18 image first (today's fetch before issue 11)."""
    images = client.fetch_wikidata_images(p.wikidata_id for p in pois if p.wikidata_id)
    found = {}
    for poi in pois:
        results = client.search(poi.name, 10)
        p18 = images.get(poi.wikidata_id)
        if p18 and p18 not in {c.title for c in results}:
            results = list(client.image_info([p18]).values()) + results
        found[poi.pk] = results
    return found


def measure(label: str, s: Scenario, found: dict[int, list[Candidate]], requests: int) -> None:
    with_own = [pk for pk, own in s.own.items() if own]
    usable = {pk: [c for c in cands if not c.drop] for pk, cands in found.items()}
    covered = sum(1 for pk in with_own if any(c.title in s.own[pk] for c in usable[pk]))
    top5 = sum(1 for pk in with_own if any(c.title in s.own[pk] for c in usable[pk][:5]))
    pool = sum(len(u) for u in usable.values())
    right = sum(1 for pk, u in usable.items() for c in u if c.title in s.own[pk])
    print(
        f"{label:<22}{requests / len(s.pois):6.2f}  {covered / len(with_own):8.2f}  "
        f"{top5 / len(with_own):8.2f}  {right / pool if pool else 0:6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pois", type=int, default=24)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    scenario, replica = build(args.pois, args.seed)
    settings.IMAGE_RANKING_COMMONS_API_URL = replica.api_url
    settings.IMAGE_RANKING_WIKIDATA_API_URL = replica.wikidata_url
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 10_000_000.0  # count requests, not hours
    settings.IMAGE_RANKING_RATE_LIMIT_BURST = 10_000
    call_command("migrate", verbosity=0)
    kinds = sorted(set(scenario.kinds.values()))
    print(f"{len(scenario.pois)} POIs in {CITY} ({', '.join(kinds)}), {len(replica.files)} files")
    print(f"{'design':<22}{'req/POI':>6}  {'coverage':>8}  {'in top 5':>8}  {'purity':>6}")
    seed_client = CommonsClient()
    measure("seed (name search)", scenario, seed_design(seed_client, scenario.pois),
            seed_client.request_count)  # fmt: skip
    client = CommonsClient()
    per_poi = count_searches(client)
    gathered = client.gather(scenario.pois)
    measure("gather", scenario, {pk: g.candidates for pk, g in gathered.items()},
            client.request_count)  # fmt: skip
    print("\nper kind: searches per POI (gather)")
    searches: dict[str, list[int]] = {}
    for pk, kind in scenario.kinds.items():
        searches.setdefault(kind, []).append(per_poi.get(pk, 0))
    for kind, counts in sorted(searches.items()):
        print(f"  {kind:<12} {sum(counts) / len(counts):.2f}  ({len(counts)} POIs)")
    replica.close()


def count_searches(client: CommonsClient) -> dict[int, int]:
    """Requests each POI's own searches cost (filled in as ``client.gather`` runs)."""
    counts: dict[int, int] = {}
    search_poi = client._search_poi

    def counting(poi, item, limit):
        before = client.request_count
        try:
            return search_poi(poi, item, limit)
        finally:
            counts[poi.pk] = client.request_count - before

    client._search_poi = counting
    return counts


if __name__ == "__main__":
    main()
