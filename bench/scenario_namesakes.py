"""A city whose POI names are shared with better-looking places elsewhere, for the
relevance benchmark (issue 11).

Aldmere, 30 listed POIs, as real Commons and Wikidata would describe them:

- generic names ("Clock Tower", "Old Bridge", "Town Hall", "Grand Hotel", "Cafe Central")
  with a Wikidata item (P18, P373 category, P625, some files with depicts statements), a
  few photos of their own, and brighter, often Featured namesakes elsewhere: in another
  city's category, geotagged kilometres away, or with no evidence at all;
- plans, maps and coats of arms inside the POI's own category, some with titles that
  give nothing away (only the pixels tell);
- one panorama that shows two POIs (the market square with the cathedral);
- POIs with coordinates but no Wikidata item, found by name among namesakes;
- POIs with nothing of theirs on Commons (only namesakes);
- unique names whose photos carry no geotag and no city category.

Each file knows what it shows (``shows``: a POI name, or "" for elsewhere) and whether it
is a photo, so the bench can count right and wrong images. Deterministic.

``build()`` gives the city as real Commons describes it (issue 21): most photos carry
their camera's position (the POI's own near it, a namesake's in its own city), so the
replica adds the hidden "Pages with maps" and "Media with locations" to them; visible
categories of real photos use words the old filters took for plans or flags ("Flags on
buildings in Aldmere", "Icons in ...", "Map stands in ..."); thumbnails come from a
second host. ``build(real_shapes=False)`` is the scenario as first written (issue 11).
"""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CITY = "Aldmere"
CENTRE = (52.1000, 5.1200)
ELSEWHERE = {
    "Vienna": (48.2082, 16.3738),
    "Boston": (42.3601, -71.0589),
    "Lisbon": (38.7223, -9.1393),
    "Stockholm": (59.3293, 18.0686),
    "Mostar": (43.3372, 17.8150),
    "Prague": (50.0755, 14.4378),
    "Graz": (47.0737, 15.4375),
    "Chicago": (41.8781, -87.6298),
}
THUMB_WIDTH = 960


@dataclass
class File:
    title: str
    shows: str  # the POI it shows ("" = a place elsewhere)
    brightness: int  # what the bench scorer sees: a stand-in for good looks
    photo: bool = True  # False: a plan, map or coat of arms drawn as line art
    categories: tuple[str, ...] = ()
    description: str = ""
    gps: tuple[float, float] | None = None
    assessments: tuple[str, ...] = ()
    depicts: tuple[str, ...] = ()
    mime: str = "image/jpeg"
    size: tuple[int, int] = (3000, 2000)
    also_shows: tuple[str, ...] = ()  # other POIs in the picture (a panorama)

    def thumbnail(self) -> bytes:
        """The 960 px thumbnail's bytes: a textured scene, or line art on white."""
        rng = np.random.default_rng(zlib.crc32(self.title.encode()))
        height = round(self.size[1] * THUMB_WIDTH / self.size[0])
        if self.photo:
            coarse = rng.normal(self.brightness, 35, (24, 36, 3)).clip(0, 255).astype(np.uint8)
            image = Image.fromarray(coarse).resize((THUMB_WIDTH, height), Image.BICUBIC)
            noisy = np.asarray(image, dtype=float) + rng.normal(0, 10, (height, THUMB_WIDTH, 3))
            image = Image.fromarray(noisy.clip(0, 255).astype(np.uint8))
        else:
            image = Image.new("RGB", (THUMB_WIDTH, height), "white")
            draw = ImageDraw.Draw(image)
            lines = random.Random(self.title)
            for _ in range(14):
                x, y = lines.randrange(THUMB_WIDTH), lines.randrange(height)
                draw.line([(x, 0), (x, height)], fill="black", width=3)
                draw.line([(0, y), (THUMB_WIDTH, y)], fill=(120, 30, 30), width=2)
        out = io.BytesIO()
        image.save(out, format="PNG" if self.mime == "image/png" else "JPEG", quality=85)
        return out.getvalue()


@dataclass
class Poi:
    name: str
    category: str = "see"
    qid: str = ""
    commons_category: str = ""  # P373
    p18: str = ""
    coordinates: tuple[float, float] | None = None  # on the POI and as P625


@dataclass
class Scenario:
    pois: list[Poi] = field(default_factory=list)
    files: dict[str, File] = field(default_factory=dict)

    def own(self, poi: Poi, title: str, brightness: int, **kw) -> None:
        """A file that shows ``poi``."""
        self.files[title] = File(title, poi.name, brightness, **kw)

    def namesake(self, title: str, brightness: int, **kw) -> None:
        """A file of a place elsewhere (or of nothing in Aldmere)."""
        self.files[title] = File(title, "", brightness, **kw)

    def add_poi(
        self,
        name: str,
        n: int,
        *,
        item: bool = True,
        commons: str = "",
        coords: bool = True,
        kind: str = "see",
        **kw,
    ) -> Poi:
        """POI number ``n``: a Wikidata item Q9nnn and a spot near the centre by default."""
        qid = f"Q9{n:03d}" if item else ""
        point = near(150 * (n % 7) - 450, 120 * (n % 5) - 240) if coords else None
        poi = Poi(name, kind, qid=qid, commons_category=commons, coordinates=point, **kw)
        self.pois.append(poi)
        return poi

    def with_photo(self) -> set[str]:
        """POIs with at least one photo of them on Commons."""
        return {f.shows for f in self.files.values() if f.shows and f.photo}

    def shows(self, title: str, poi: str) -> bool:
        f = self.files.get(title)
        return f is not None and f.photo and poi in (f.shows, *f.also_shows)

    def city_json(self) -> dict:
        pois = []
        for p in self.pois:
            entry = {"name": p.name, "category": p.category}
            if p.coordinates:
                entry.update(latitude=p.coordinates[0], longitude=p.coordinates[1])
            if p.qid:
                entry["wikidata_id"] = p.qid
            pois.append(entry)
        names = [p.name for p in self.pois]
        return {
            "city": {"name": CITY, "slug": "aldmere", "country": "Nowhere"},
            "pois": pois,
            "lists": [{"name": "Essentials", "pois": names}],
        }


def near(dx_m: float, dy_m: float, base: tuple[float, float] = CENTRE) -> tuple[float, float]:
    """A point ``dx_m`` east and ``dy_m`` north of ``base``."""
    lat = base[0] + dy_m / 111_320
    lon = base[1] + dx_m / (111_320 * np.cos(np.radians(base[0])))
    return (round(lat, 6), round(float(lon), 6))


def build(real_shapes: bool = True) -> Scenario:
    """The Aldmere scenario: 30 POIs, their own files and their namesakes elsewhere."""
    s = Scenario()
    _generic_names_with_items(s)
    _coordinates_without_item(s)
    _only_namesakes(s)
    _unique_names(s)
    _p18_without_category(s)
    if real_shapes:
        _as_real_commons(s)
    return s


# Photos whose visible categories carry words the old filters read as "not a photo".
PHOTO_CATEGORIES_WITH_FILTER_WORDS = {
    "File:Aldmere Town Hall.jpg": f"Flags on buildings in {CITY}",
    "File:St. Peter's Church, Aldmere.jpg": f"Icons in St. Peter's Church ({CITY})",
    "File:Market day in Aldmere.jpg": f"Map stands in {CITY}",
    "File:Harbour Lighthouse Aldmere.jpg": f"Seals of the {CITY} harbour",
    "File:Grand Hotel lobby.jpg": f"Coats of arms on buildings in {CITY}",
}


def _as_real_commons(s: Scenario) -> None:
    """Three in four photos geotagged where they were taken; filter words in photo
    categories (the replica adds the hidden categories and the thumbnail host)."""
    centres = {p.name: p.coordinates or CENTRE for p in s.pois}
    for f in s.files.values():
        if not f.photo or f.gps is not None or zlib.crc32(f.title.encode()) % 4 == 0:
            continue
        jitter = zlib.crc32(f.title.encode()[::-1])
        dx, dy = jitter % 120 - 60, (jitter >> 8) % 120 - 60
        if f.shows:
            f.gps = near(dx, dy, centres[f.shows])
        else:
            city = next((c for c in ELSEWHERE if any(c in k for k in f.categories)), "")
            if city:
                f.gps = near(dx * 10, dy * 10, ELSEWHERE[city])
    for title, category in PHOTO_CATEGORIES_WITH_FILTER_WORDS.items():
        if title in s.files:
            s.files[title].categories += (category,)


def _generic_names_with_items(s: Scenario) -> None:
    """Generic names with a Wikidata item and a Commons category."""
    _clock_tower(s)
    _old_bridge(s)
    _town_hall(s)
    _grand_hotel(s)
    _cafe_central(s)
    _city_museum(s)
    _central_station(s)
    _botanical_garden(s)


def _clock_tower(s: Scenario) -> None:
    p = s.add_poi(
        "Clock Tower", 1, commons="Clock Tower (Aldmere)", p18="File:Aldmere clock tower 2019.jpg"
    )
    cat = (p.commons_category, f"Towers in {CITY}")
    s.own(
        p, "File:Aldmere clock tower 2019.jpg", 160, categories=cat, gps=near(20, 10, p.coordinates)
    )
    s.own(p, "File:Clock Tower at dusk.jpg", 175, categories=cat[:1])
    s.own(p, "File:Clock tower from the canal.jpg", 150, categories=cat[:1], depicts=(p.qid,))
    s.own(p, "File:Clock Tower elevation 1885.jpg", 0, photo=False, categories=cat[:1])
    s.namesake(
        "File:Clock Tower Boston.jpg",
        225,
        categories=("Clock Tower (Boston)",),
        assessments=("featured",),
    )
    s.namesake(
        "File:Clock tower night.jpg",
        230,
        categories=("Clock towers in Austria",),
        gps=ELSEWHERE["Graz"],
    )
    s.namesake(
        "File:Clocktower sunset.jpg",
        220,
        categories=("Clock towers",),
        description="Clock Tower at sunset",
    )


def _old_bridge(s: Scenario) -> None:
    p = s.add_poi(
        "Old Bridge", 2, commons="Old Bridge (Aldmere)", p18="File:Old Bridge Aldmere.jpg"
    )
    s.own(p, "File:Old Bridge Aldmere.jpg", 150, categories=(p.commons_category,))
    s.own(
        p,
        "File:Old Bridge at night.jpg",
        165,
        categories=(p.commons_category,),
        assessments=("quality",),
    )
    s.own(
        p, "File:Old bridge, winter.jpg", 172, categories=(p.commons_category, "Winter in Aldmere")
    )
    s.namesake(
        "File:Old Bridge Mostar.jpg",
        235,
        categories=("Old Bridge (Mostar)",),
        assessments=("featured",),
        gps=ELSEWHERE["Mostar"],
    )
    s.namesake("File:Old Bridge Heidelberg.jpg", 215, categories=("Old Bridge (Heidelberg)",))
    s.namesake(
        "File:Old Bridge in the mist.jpg", 210, description="The Old Bridge in Prague at dawn"
    )


def _town_hall(s: Scenario) -> None:
    p = s.add_poi("Town Hall", 3, commons="Town Hall (Aldmere)", p18="File:Aldmere Town Hall.jpg")
    s.own(p, "File:Aldmere Town Hall.jpg", 155, categories=(p.commons_category,))
    s.own(p, "File:Town Hall tower detail.jpg", 145, categories=(p.commons_category,))
    s.own(
        p,
        "File:Aldmere town hall arms.png",
        0,
        photo=False,
        mime="image/png",
        categories=(p.commons_category, f"Coats of arms of {CITY}"),
    )
    s.own(
        p,
        "File:Town Hall Aldmere ground floor.jpg",
        0,
        photo=False,
        categories=(p.commons_category,),
    )
    s.namesake(
        "File:Town Hall Vienna.jpg",
        228,
        categories=("Town Hall (Vienna)",),
        assessments=("featured",),
    )
    s.namesake(
        "File:Stockholm town hall.jpg",
        222,
        categories=("Stockholm City Hall",),
        gps=ELSEWHERE["Stockholm"],
    )


def _grand_hotel(s: Scenario) -> None:
    p = s.add_poi("Grand Hotel", 4, commons="Grand Hotel (Aldmere)", kind="sleep")
    s.own(
        p,
        "File:Grand Hotel Aldmere facade.jpg",
        165,
        categories=(p.commons_category,),
        gps=near(-30, 5, p.coordinates),
    )
    s.own(p, "File:Grand Hotel lobby.jpg", 140, categories=(p.commons_category,))
    s.namesake(
        "File:Grand Hotel Stockholm.jpg",
        232,
        categories=("Grand Hotel (Stockholm)",),
        assessments=("featured",),
    )
    s.namesake("File:Grand Hotel.jpg", 226, gps=ELSEWHERE["Lisbon"])


def _cafe_central(s: Scenario) -> None:
    p = s.add_poi(
        "Cafe Central",
        5,
        kind="drink",
        commons="Cafe Central (Aldmere)",
        p18="File:Cafe Central Aldmere.jpg",
    )
    s.own(p, "File:Cafe Central Aldmere.jpg", 150, categories=(p.commons_category,))
    s.namesake(
        "File:Cafe Central Wien.jpg",
        230,
        categories=("Café Central (Vienna)",),
        assessments=("quality",),
    )
    s.namesake("File:Cafe Central interior.jpg", 224, categories=("Café Central (Vienna)",))
    s.namesake("File:Cafe Central tables.jpg", 220, gps=ELSEWHERE["Vienna"])

    # The panorama shows the market square and the cathedral: one photo, one POI.
    cathedral = s.add_poi("Cathedral of St. Mary", 6, commons="St. Mary's Cathedral (Aldmere)")
    market = s.add_poi("Market Square", 7, commons="Market Square (Aldmere)")
    s.files["File:Aldmere market square panorama.jpg"] = File(
        "File:Aldmere market square panorama.jpg",
        "Market Square",
        200,
        categories=(market.commons_category, cathedral.commons_category),
        size=(4000, 2000),
        also_shows=(cathedral.name,),
    )
    s.own(
        cathedral,
        "File:St Mary's Cathedral west front.jpg",
        170,
        categories=(cathedral.commons_category,),
    )
    s.own(
        cathedral,
        "File:St Mary's Cathedral nave.jpg",
        140,
        categories=(cathedral.commons_category,),
    )
    s.own(
        cathedral,
        "File:St Mary's Cathedral floor plan.jpg",
        0,
        photo=False,
        categories=(cathedral.commons_category, "Floor plans of cathedrals"),
    )
    s.own(market, "File:Market day in Aldmere.jpg", 160, categories=(market.commons_category,))
    s.own(market, "File:Market Square fountain.jpg", 150, categories=(market.commons_category,))
    s.namesake("File:Market Square Wroclaw.jpg", 230, categories=("Market Square (Wrocław)",))


def _city_museum(s: Scenario) -> None:
    p = s.add_poi(
        "City Museum",
        8,
        commons="City Museum (Aldmere)",
        p18="File:City Museum Aldmere entrance.jpg",
    )
    s.own(
        p,
        "File:City Museum Aldmere entrance.jpg",
        160,
        categories=("Museum buildings in Aldmere",),
        depicts=(p.qid,),
    )
    s.own(
        p,
        "File:City Museum garden.jpg",
        150,
        categories=("City Museum (Aldmere) - garden",),
        description="Garden of the City Museum, Aldmere",
    )
    s.namesake(
        "File:City Museum Stockholm.jpg",
        225,
        categories=("Stadsmuseet (Stockholm)",),
        gps=ELSEWHERE["Stockholm"],
        description="City Museum",
    )


def _central_station(s: Scenario) -> None:
    p = s.add_poi("Central Station", 9, commons="Aldmere Centraal railway station")
    s.own(p, "File:Aldmere Centraal hall.jpg", 170, categories=(p.commons_category,))
    s.own(p, "File:Aldmere Centraal platforms.jpg", 145, categories=(p.commons_category,))
    s.own(
        p,
        "File:Aldmere station map.png",
        0,
        photo=False,
        mime="image/png",
        categories=(p.commons_category,),
    )
    s.namesake(
        "File:Central Station Amsterdam.jpg",
        230,
        categories=("Amsterdam Centraal",),
        description="Central Station",
    )


def _botanical_garden(s: Scenario) -> None:
    p = s.add_poi("Botanical Garden", 10, commons="Botanical Garden (Aldmere)")
    s.own(
        p,
        "File:Botanical Garden glasshouse.jpg",
        168,
        categories=(p.commons_category,),
        assessments=("valued",),
    )
    s.own(p, "File:Botanical Garden pond.jpg", 172, categories=(p.commons_category,))
    s.own(
        p,
        "File:Botanical Garden Aldmere 1910.jpg",
        0,
        photo=False,
        categories=(p.commons_category,),
    )
    s.namesake("File:Botanical Garden Lisbon.jpg", 228, categories=("Botanical Garden (Lisbon)",))


def _coordinates_without_item(s: Scenario) -> None:
    """Generic names, coordinates but no Wikidata item."""
    _old_mill(s)
    _st_peter_s_church(s)
    _park_hotel(s)
    _harbour_lighthouse(s)
    _rose_garden(s)
    _city_library(s)


def _old_mill(s: Scenario) -> None:
    p = s.add_poi("Old Mill", 11, item=False)
    s.own(p, "File:Old Mill Aldmere.jpg", 170, gps=near(40, 30, p.coordinates))
    s.own(
        p,
        "File:Old mill in spring.jpg",
        150,
        gps=near(-60, 10, p.coordinates),
        categories=("Mills",),
    )
    s.namesake("File:Old Mill Prague.jpg", 228, categories=("Old Mill (Prague)",))
    s.namesake("File:Old mill by the river.jpg", 222, gps=ELSEWHERE["Boston"])


def _st_peter_s_church(s: Scenario) -> None:
    p = s.add_poi("St. Peter's Church", 12, item=False)
    s.own(
        p,
        "File:St. Peter's Church, Aldmere.jpg",
        165,
        gps=near(10, 10, p.coordinates),
        categories=(f"Churches in {CITY}",),
    )
    s.own(
        p,
        "File:St Peter's Church tower.jpg",
        150,
        categories=(f"Churches in {CITY}",),
        description="St. Peter's Church in Aldmere",
    )
    s.namesake(
        "File:St. Peter's Church Vienna.jpg",
        232,
        categories=("St. Peter's Church (Vienna)",),
        assessments=("featured",),
    )
    s.namesake("File:St. Peter's Church dome.jpg", 224, categories=("St. Peter's Church (Vienna)",))
    s.namesake("File:St Peter's Church organ.jpg", 218, categories=("Church organs",))


def _park_hotel(s: Scenario) -> None:
    p = s.add_poi("Park Hotel", 13, item=False, kind="sleep")
    s.own(
        p,
        "File:Park Hotel waterfront.jpg",
        160,
        description="The Park Hotel on the Aldmere waterfront",
    )
    s.namesake("File:Park Hotel Vitznau.jpg", 230, gps=(47.0106, 8.4833))


def _harbour_lighthouse(s: Scenario) -> None:
    p = s.add_poi("Harbour Lighthouse", 14, item=False)
    s.own(p, "File:Harbour Lighthouse Aldmere.jpg", 175, gps=near(5, -20, p.coordinates))
    s.own(p, "File:Harbour lighthouse storm.jpg", 160, gps=near(-80, 40, p.coordinates))
    s.namesake("File:Harbour Lighthouse Chicago.jpg", 228, gps=ELSEWHERE["Chicago"])


def _rose_garden(s: Scenario) -> None:
    p = s.add_poi("Rose Garden", 15, item=False)
    s.own(p, "File:Rose Garden Aldmere.jpg", 165, categories=(f"Parks in {CITY}",))
    s.namesake("File:Rose Garden Boston.jpg", 226, categories=("Rose Garden (Boston)",))


def _city_library(s: Scenario) -> None:
    p = s.add_poi("City Library", 16, item=False)
    s.own(p, "File:City Library reading room.jpg", 155, gps=near(15, 15, p.coordinates))
    s.own(p, "File:City Library facade.jpg", 168, gps=near(-25, 5, p.coordinates))
    s.namesake(
        "File:City Library Stockholm.jpg",
        234,
        categories=("City Library (Stockholm)",),
        assessments=("featured",),
    )


def _only_namesakes(s: Scenario) -> None:
    """Nothing of theirs on Commons: only namesakes."""
    s.add_poi("Corner Bakery", 17, item=False)
    s.namesake("File:Corner Bakery Chicago.jpg", 200, gps=ELSEWHERE["Chicago"])
    s.namesake(
        "File:Corner Bakery Cafe.jpg", 190, categories=("Corner Bakery Cafe (Washington, D.C.)",)
    )

    s.add_poi("Blue Bar", 18, item=False)
    s.namesake("File:Blue Bar Stockholm.jpg", 205, categories=("Blue Bar (Stockholm)",))
    s.namesake("File:Blue bar interior.jpg", 198, categories=("Bars",))

    s.add_poi("Station Hotel", 19, item=False, coords=False)
    s.namesake("File:Station Hotel York.jpg", 210, categories=("Station Hotel (York)",))
    s.namesake("File:Station Hotel.jpg", 200, categories=("Hotels",))

    # A namesake with no evidence at all: nothing can tell it from this POI's own photo.
    s.add_poi("Golden Lion", 20, item=False)
    s.namesake("File:Golden Lion inn sign.jpg", 190, categories=("Inn signs",))

    s.add_poi("Little Theatre", 21, item=False, coords=False)


def _unique_names(s: Scenario) -> None:
    """Unique names, photos with no geotag and no city category."""
    p = s.add_poi("Hesselberg Tower", 22, item=False, coords=False)
    s.own(p, "File:Hesselberg Tower.jpg", 160, categories=("Towers",))
    s.own(p, "File:Hesselberg Tower top.jpg", 145, categories=("Towers",))

    p = s.add_poi("Vrolik Pavilion", 23, item=False)
    s.own(p, "File:Vrolik Pavilion.jpg", 155, categories=("Pavilions",))

    p = s.add_poi("Saint Odulf Abbey", 24, item=False)
    s.own(p, "File:Saint Odulf Abbey cloister.jpg", 165, categories=("Cloisters",))
    s.own(p, "File:Saint Odulf Abbey church.jpg", 150)

    p = s.add_poi("Mauritz Bakery", 25, item=False, kind="eat")
    s.own(p, "File:Mauritz Bakery shopfront.jpg", 150, categories=("Bakeries",))
    s.own(p, "File:Mauritz Bakery logo.png", 0, photo=False, mime="image/png")

    p = s.add_poi("Tesselaar Windmill", 26, item=False)
    s.own(p, "File:Tesselaar Windmill.jpg", 150)
    s.own(p, "File:Tesselaar Windmill sails.jpg", 165, gps=near(30, 30, p.coordinates))


def _p18_without_category(s: Scenario) -> None:
    """An item with P18 but no category; a famous namesake of a category POI."""
    p = s.add_poi("Van Loon House", 27, p18="File:Van Loon House facade.jpg")
    s.own(p, "File:Van Loon House facade.jpg", 160)
    s.own(p, "File:Van Loon House garden.jpg", 150, categories=("Gardens",))

    p = s.add_poi("Zuiderkerk", 28, commons="Zuiderkerk (Aldmere)")
    s.own(p, "File:Zuiderkerk Aldmere.jpg", 160, categories=(p.commons_category,))
    s.own(
        p,
        "File:Zuiderkerk spire.jpg",
        170,
        categories=(p.commons_category,),
        assessments=("quality",),
    )
    s.own(p, "File:Zuiderkerk Aldmere nave.jpg", 140, categories=(p.commons_category,))
    s.namesake(
        "File:Zuiderkerk Amsterdam.jpg",
        235,
        categories=("Zuiderkerk (Amsterdam)",),
        assessments=("featured",),
    )

    p = s.add_poi("Fish Market", 29, item=False)
    s.own(p, "File:Fish Market Aldmere.jpg", 160, categories=("Fish Market (Aldmere)",))
    s.own(p, "File:Fish Market stalls.jpg", 150, categories=("Fish Market (Aldmere)",))
    s.namesake("File:Fish Market Hamburg.jpg", 230, categories=("Fish Market (Hamburg)",))

    p = s.add_poi("Opera House", 30, commons="Opera House (Aldmere)")
    s.own(p, "File:Opera House Aldmere.jpg", 158, categories=(p.commons_category,))
    s.own(
        p,
        "File:Opera House Aldmere at night.jpg",
        152,
        categories=(p.commons_category,),
        assessments=("quality",),
    )
    s.namesake(
        "File:Sydney Opera House.jpg",
        238,
        categories=("Sydney Opera House",),
        assessments=("featured",),
        gps=(-33.8568, 151.2153),
    )


def write_city_json(scenario: Scenario, path: Path) -> Path:
    import json

    path.write_text(json.dumps(scenario.city_json(), indent=1), encoding="utf-8")
    return path
