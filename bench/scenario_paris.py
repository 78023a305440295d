"""A realistic Commons scenario for a city guide, for the request-budget benchmark.

Paris's 33 POIs from ``cities/data/paris.json`` plus generated neighbourhood places
(cafés, bakeries, small shops...), 99 listed POIs in all, with the kind of results
Commons search really gives:

- landmarks: a full page of 10 results, of which some are maps and plans, PDFs and
  SVGs (brochures, floor plans), logos, flags and coats of arms, tiny scans, extreme
  panoramas, and photos shared with other landmarks (skylines, views from a tower);
  most have a Wikidata id whose P18 image is also one of the search results;
- famous restaurants, hotels and shops: 2 to 6 results, a few unusable;
- small neighbourhood places: none, or one or two (often too small, or a logo).

Every file has real image bytes (JPEG or PNG) at the size the thumbnail would have.
Deterministic (seeded), so both runs and every machine see the same data.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
PARIS_JSON = REPO / "cities" / "data" / "paris.json"

SEARCH_LIMIT = 10
THUMB_WIDTH = 960

# Shared views that show up in many landmarks' search results.
SHARED_PHOTOS = [
    "File:Paris skyline from Tour Montparnasse at dusk.jpg",
    "File:Seine and bridges from Notre-Dame towers.jpg",
    "File:Paris vue d'ensemble tour Eiffel.jpg",
]


@dataclass
class ScenarioFile:
    title: str
    width: int  # original size
    height: int
    mime: str
    kind: str  # photo, map, pdf, svg, logo, flag, tiny, panorama
    brightness: int  # drives the bench scorer: which photo wins
    author: str = "Jane Doe"
    license_name: str = "CC BY-SA 4.0"
    license_url: str = "https://creativecommons.org/licenses/by-sa/4.0/"

    @property
    def thumb_size(self) -> tuple[int, int]:
        if self.width <= THUMB_WIDTH:
            return self.width, self.height
        return THUMB_WIDTH, max(1, round(self.height * THUMB_WIDTH / self.width))

    def image_bytes(self) -> bytes:
        """Real bytes as Commons would serve the thumbnail (PNG for PNG/SVG/PDF)."""
        width, height = self.thumb_size
        base = (self.brightness, max(0, self.brightness - 40), min(255, self.brightness + 20))
        image = Image.new("RGB", (width, height), base)
        draw = ImageDraw.Draw(image)
        rng = random.Random(self.title)
        for _ in range(6):  # some structure, so files differ and compress like photos
            x0, y0 = rng.randrange(width), rng.randrange(height)
            x1, y1 = x0 + rng.randrange(1, width // 2 + 2), y0 + rng.randrange(1, height // 2 + 2)
            shade = rng.randrange(-30, 30)
            draw.rectangle([x0, y0, x1, y1], fill=tuple(max(0, min(255, c + shade)) for c in base))
        out = io.BytesIO()
        if self.mime == "image/jpeg":
            image.save(out, format="JPEG", quality=85)
        else:
            image.save(out, format="PNG")
        return out.getvalue()


@dataclass
class Scenario:
    city: dict  # load_city JSON document
    files: dict[str, ScenarioFile] = field(default_factory=dict)
    searches: dict[str, list[str]] = field(default_factory=dict)  # POI name -> titles
    wikidata: dict[str, str] = field(default_factory=dict)  # QID -> P18 file title

    @property
    def poi_names(self) -> list[str]:
        listed = {name for plist in self.city["lists"] for name in plist["pois"]}
        return [p["name"] for p in self.city["pois"] if p["name"] in listed]

    def spec_requests(self) -> int:
        """What the spec's design costs here: 1 search + a thumbnail per result (<= 10)
        + 1 original download when there is any result."""
        total = 0
        for name in self.poi_names:
            results = len(self.searches.get(name, [])[:SEARCH_LIMIT])
            total += 1 + results + (1 if results else 0)
        return total

    def write_city_json(self, path: Path) -> Path:
        path.write_text(json.dumps(self.city, ensure_ascii=False, indent=1), encoding="utf-8")
        return path


def _add(scenario: Scenario, file: ScenarioFile) -> str:
    scenario.files.setdefault(file.title, file)
    return file.title


def _unusable(rng: random.Random, stem: str, kind: str) -> ScenarioFile:
    if kind == "map":
        return ScenarioFile(f"File:{stem} - map.png", 2400, 1800, "image/png", kind, 240)
    if kind == "plan":
        return ScenarioFile(f"File:Plan of {stem}.jpg", 3000, 2200, "image/jpeg", "map", 235)
    if kind == "pdf":
        return ScenarioFile(f"File:{stem} brochure.pdf", 1240, 1754, "application/pdf", kind, 250)
    if kind == "svg":
        return ScenarioFile(f"File:{stem} outline.svg", 512, 512, "image/svg+xml", kind, 250)
    if kind == "logo":
        return ScenarioFile(f"File:Logo {stem}.png", 1200, 1200, "image/png", kind, 252)
    if kind == "flag":
        return ScenarioFile(f"File:Flag of {stem}.png", 1500, 1000, "image/png", kind, 245)
    if kind == "coat":
        return ScenarioFile(
            f"File:Coat of arms of {stem}.png", 1000, 1200, "image/png", "flag", 245
        )
    if kind == "tiny":
        return ScenarioFile(f"File:{stem} old postcard.jpg", 420, 300, "image/jpeg", kind, 200)
    if kind == "panorama":
        return ScenarioFile(
            f"File:{stem} 360 panorama.jpg", 12000, 1500, "image/jpeg", "panorama", 210
        )
    raise ValueError(kind)


def _photo(rng: random.Random, stem: str, n: int) -> ScenarioFile:
    portrait = rng.random() < 0.2
    width, height = (
        (3000, 4000) if portrait else rng.choice([(4000, 3000), (6000, 4000), (2048, 1536)])
    )
    return ScenarioFile(
        f"File:{stem} {n:02d}.jpg", width, height, "image/jpeg", "photo", rng.randrange(90, 235)
    )


SMALL_PLACE_KINDS = [
    ("Café", "drink"),
    ("Boulangerie", "eat"),
    ("Bistrot", "eat"),
    ("Librairie", "shop"),
    ("Fromagerie", "shop"),
    ("Bar", "drink"),
    ("Hôtel", "sleep"),
    ("Square", "play"),
]
STREETS = [
    "des Martyrs",
    "de la Roquette",
    "Oberkampf",
    "du Commerce",
    "Mouffetard",
    "de Charonne",
    "Cler",
    "Montorgueil",
    "des Abbesses",
    "de Bretagne",
]


def build(extra_small_places: int = 67, seed: int = 7) -> Scenario:
    """The scenario: Paris's listed POIs plus ``extra_small_places`` generated ones."""
    rng = random.Random(seed)
    city = json.loads(PARIS_JSON.read_text(encoding="utf-8"))
    scenario = Scenario(city=city)
    for shared in SHARED_PHOTOS:
        _add(scenario, ScenarioFile(shared, 6000, 4000, "image/jpeg", "photo", 200))

    qid = 900000
    for poi in city["pois"]:
        name = poi["name"]
        stem = name
        if poi["category"] == "see":
            # A landmark: a full page of results; about 40% unusable on metadata.
            if not poi.get("wikidata_id") and rng.random() < 0.6:
                qid += 1
                poi["wikidata_id"] = f"Q{qid}"
            unusable = rng.sample(
                ["map", "plan", "pdf", "svg", "logo", "flag", "coat", "tiny", "panorama"], 4
            )
            titles = [_add(scenario, _unusable(rng, stem, kind)) for kind in unusable]
            titles += rng.sample(SHARED_PHOTOS, 1)
            photos = [
                _add(scenario, _photo(rng, stem, n))
                for n in range(1, SEARCH_LIMIT - len(titles) + 1)
            ]
            titles += photos
            rng.shuffle(titles)
            scenario.searches[name] = titles[:SEARCH_LIMIT]
            if poi.get("wikidata_id"):
                scenario.wikidata[poi["wikidata_id"]] = photos[0]  # P18: also a search hit
        else:
            # A famous restaurant, hotel or shop: a handful of results.
            count = rng.randint(2, 6)
            titles = [_add(scenario, _photo(rng, stem, n)) for n in range(1, count + 1)]
            if rng.random() < 0.5:
                titles.append(
                    _add(scenario, _unusable(rng, stem, rng.choice(["logo", "tiny", "map"])))
                )
            rng.shuffle(titles)
            scenario.searches[name] = titles[:SEARCH_LIMIT]

    # Neighbourhood places: most have nothing on Commons.
    extra_names = []
    for i in range(extra_small_places):
        kind, category = SMALL_PLACE_KINDS[i % len(SMALL_PLACE_KINDS)]
        name = f"{kind} {STREETS[i % len(STREETS)]} {i + 1}"
        extra_names.append(name)
        city["pois"].append({"name": name, "category": category})
        roll = rng.random()
        if roll < 0.55:
            titles = []
        elif roll < 0.75:
            titles = [_add(scenario, _unusable(rng, name, rng.choice(["tiny", "logo"])))]
        else:
            titles = [_add(scenario, _photo(rng, name, n)) for n in range(1, rng.randint(1, 2) + 1)]
        scenario.searches[name] = titles
    city["lists"].append({"name": "Neighbourhood favourites", "pois": extra_names})
    return scenario


if __name__ == "__main__":
    s = build()
    kinds = {}
    for f in s.files.values():
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    print(
        f"{len(s.poi_names)} listed POIs, {len(s.files)} files {kinds}, "
        f"{len(s.wikidata)} with Wikidata P18, spec cost {s.spec_requests()} requests "
        f"({s.spec_requests() / len(s.poi_names):.2f} per POI)"
    )
