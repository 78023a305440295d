"""Relevance: does a candidate file show *this* POI, or a namesake elsewhere, or no photo?

``judge`` weighs the evidence Commons and Wikidata give for free (no request, no pixels):

- verified: the file is the item's Wikidata image (P18), depicts the item (found by
  ``haswbstatement:P180=Q``), is in the item's Commons category (P373, or found by it),
  or in a category naming the POI and its city ("Clock Tower (Graz)");
- likely: geotagged within ``RELEVANCE_NEAR_METRES`` of the POI (its coordinates, else
  P625), or naming the POI and its city in title, description or categories, or naming
  the POI and geotagged in the city;
- elsewhere (dropped): a geotag farther than ``RELEVANCE_FAR_KM``, or a category or
  description naming the POI with another place ("Clock Tower (Boston)"), unless
  verified evidence says otherwise;
- not_a_photo (dropped): the title, or a category, is *about* a plan, map, coat of arms,
  logo, flag, diagram or drawing ("Maps of X", "X (logos)": ``commons/categories.py``),
  not merely using the word ("Flags on buildings in X" holds photos). A category alone
  never overrules a geotag (a camera's position): such a file is kept for the pixels
  check (``photo_check``), which sees line art;
- unknown: nothing either way (a unique name's plain photos often look like this).

Every piece is a short human line kept on the candidate ("depicts Q123", "80 m away").
Hidden categories (tracking, licences: "Pages with maps") are never evidence: the client
keeps only visible ones, and rows cached before that lose them here too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from image_ranking.commons.categories import about_non_photo, visible
from image_ranking.commons.search import commons_category, distance_km
from image_ranking.conf import conf
from image_ranking.drops import Drop, format_distance, sentence
from image_ranking.models import ImageCandidate
from image_ranking.poi import PoiInfo

# The verdicts: ImageCandidate.Relevance is their one source (values and labels).
VERIFIED = ImageCandidate.Relevance.VERIFIED.value
LIKELY = ImageCandidate.Relevance.LIKELY.value
UNKNOWN = ImageCandidate.Relevance.UNKNOWN.value
ELSEWHERE = ImageCandidate.Relevance.ELSEWHERE.value
NOT_A_PHOTO = ImageCandidate.Relevance.NOT_A_PHOTO.value
DROPPED = (ELSEWHERE, NOT_A_PHOTO)
# Order in which the decide stage considers candidates: verified first.
TIERS = (VERIFIED, LIKELY, UNKNOWN)
STRENGTH = {VERIFIED: 3.0, LIKELY: 2.0, UNKNOWN: 1.0, ELSEWHERE: 0.0, NOT_A_PHOTO: 0.0}

# "Clock Tower (Boston)", "Old Bridge, Mostar", "Cafe Central in Vienna".
QUALIFIED = re.compile(
    r"^(?P<base>.+?)\s*(?:\((?P<paren>[^()]+)\)|,\s*(?P<comma>.+)|\s+in\s+(?P<in>.+))$"
)
# Capitalised words after "NAME in" that are times, directions or articles, not places
# ("Clock Tower in Winter"; German capitalises every noun: "Hauptstraße in Richtung
# Westen" is a direction). Descriptions come in any language.
NOT_PLACES = re.compile(
    r"(winter|spring|summer|autumn|fall|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|morning|evening|night|christmas|easter|snow|fog|"
    r"the|a|an|"
    r"richtung|blickrichtung|fahrtrichtung|höhe|hohe|nahe|nähe|der|die|das|den|dem|des|"
    r"ein|eine|einem|einer|winterlicher|abendlicher|abendstimmung|morgenlicht|sonnenuntergang|"
    r"nord|süd|sud|ost|west|norden|süden|suden|osten|westen|"
    r"le|la|les|l|un|une|direction|hiver|été|ete|el|los|las|del|dirección|direccion|"
    r"het|de|een|richting)"
)
ASSESSMENT_FACTORS = {"featured": 1.0, "quality": 0.6, "valued": 0.4}


@dataclass(frozen=True)
class Judgement:
    verdict: str  # "verified" | "likely" | "unknown" | "elsewhere" | "not_a_photo"
    evidence: tuple[str, ...]  # short human lines, e.g. "depicts Q123", "80 m away"
    strength: float = 0.0  # ordering among relevant candidates (verified > likely > unknown)
    drop: str = ""  # for elsewhere/not_a_photo: why it is dropped, a ``Drop`` code...
    detail: dict[str, Any] = field(default_factory=dict, hash=False)  # ...and its details

    @property
    def dropped(self) -> bool:
        return self.verdict in DROPPED

    @property
    def reason(self) -> str:
        """Why it is dropped, as a sentence ("" if it is not)."""
        return sentence(self.drop, self.detail)

    @property
    def place(self) -> str:
        """The other place a namesake is of ("Boston"), or "" if none is named."""
        return str(self.detail.get("place", ""))


def _dropped(verdict: str, drop: str, detail: dict[str, Any], *weak: str) -> Judgement:
    """A dropping judgement whose first line of evidence is its reason."""
    why = sentence(drop, detail)
    return Judgement(verdict, (why, *weak), 0.0, drop, detail)


def normalise(text: str) -> str:
    """Lower case, accents and punctuation gone: "Café-Central" -> "cafe central"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[\W_]+", " ", plain.casefold()).split())


def _contains(haystack: str, needle: str) -> bool:
    """Whole-word containment of normalised ``needle`` in normalised ``haystack``."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (the search plan's haversine)."""
    return 1000 * distance_km(a, b)


def assessment_bonus(assessments: Iterable[str]) -> float:
    """Score points Commons' Featured/Quality/Valued review adds to a relevant file."""
    factor = max((ASSESSMENT_FACTORS.get(a.strip().lower(), 0.0) for a in assessments), default=0)
    return conf.RELEVANCE_ASSESSMENT_WEIGHT * factor


def _field(candidate: Any, name: str, default: Any) -> Any:
    value = getattr(candidate, name, default)
    return default if value is None else value


def _not_a_photo(
    title: str, categories: Iterable[str], geotagged: bool
) -> tuple[Judgement | None, str]:
    """(the judgement dropping the file as not a photo, or None; what a category says that
    a geotag outweighs, or ""). Categories alone never outweigh a camera's position."""
    about = next((c for c in categories if about_non_photo(c)), "")
    if about and not geotagged:
        return _dropped(NOT_A_PHOTO, Drop.NOT_A_PHOTO_CATEGORY, {"category": about}), ""
    noun = about_non_photo(title)
    if noun:
        return _dropped(NOT_A_PHOTO, Drop.NOT_A_PHOTO_TITLE, {"word": noun}), ""
    return None, f"Category:{about}" if about else ""


def _elsewhere_category(
    categories: Iterable[str], name: str, city: str, own: str
) -> tuple[str, str]:
    """A category naming the POI with a place that is not its city, e.g. "X (Boston)",
    and that place (("", "") if none)."""
    for category in categories:
        if own and normalise(category) == own:
            continue
        match = QUALIFIED.match(category.strip())
        if not match or normalise(match.group("base")) != name:
            continue
        other = match.group("paren") or match.group("comma") or match.group("in")
        place = normalise(other)
        if city and (_contains(place, city) or _contains(city, place)):
            continue
        return category, other.strip()
    return "", ""


def _elsewhere_description(description: str, name: str, city: str) -> str:
    """'... Old Bridge in Mostar ...': the POI's name followed by another capitalised place."""
    if not name or not description:
        return ""
    pattern = re.compile(
        re.escape(name) + r"\s*(?:,|\(|\bin\b)\s*([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*)",
        re.IGNORECASE,
    )
    plain = unicodedata.normalize("NFKD", description)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    for match in pattern.finditer(" ".join(plain.split())):
        place = match.group(1)
        if not place[0].isupper() or NOT_PLACES.fullmatch(normalise(place).split()[0]):
            continue
        if city and _contains(normalise(place), city):
            continue
        return place
    return ""


@dataclass(frozen=True)
class _Facts:
    """What is known of the POI, normalised once per judgement."""

    name: str
    city: str
    city_label: str
    point: tuple[float, float] | None
    qid: str
    p18: str
    category: str


def _facts(poi: PoiInfo, item: Any) -> _Facts:
    point = poi.coordinates or (getattr(item, "coordinates", None) if item else None)
    category = commons_category(item) or ""
    p18 = (getattr(item, "image", None) or "") if item else ""
    return _Facts(
        name=normalise(poi.name),
        city=normalise(poi.city_name),
        city_label=poi.city_name,
        point=tuple(point) if point else None,  # type: ignore[arg-type]
        qid=(getattr(item, "qid", "") if item else "") or poi.wikidata_id,
        p18=normalise(p18.removeprefix("File:")),
        category=normalise(category),
    )


def judge(candidate: Any, poi: PoiInfo, item: Any = None) -> Judgement:
    """Judge one candidate (a client ``Candidate`` or an ``ImageCandidate``) for ``poi``,
    with its Wikidata item (``WikidataItem`` or None)."""
    facts = _facts(poi, item)
    title = str(_field(candidate, "title", ""))
    categories = list(visible(str(c) for c in _field(candidate, "categories", ()) or ()))
    found_by = set(_field(candidate, "found_by", ()) or ())
    distance = _distance(candidate, facts)
    geotagged = _field(candidate, "latitude", None) is not None
    not_a_photo, outweighed = _not_a_photo(title, categories, geotagged)
    if not_a_photo is not None:
        return not_a_photo

    strong = _strong_evidence(candidate, title, categories, found_by, facts)
    # Kept for the pixels check (photo_check), which tells line art from a photo.
    weak: list[str] = [f"{outweighed}, but geotagged"] if outweighed else []
    far = distance is not None and distance > conf.RELEVANCE_FAR_KM * 1000
    text = normalise(" ".join([title.removeprefix("File:"), *categories]))
    text_all = f"{text} {normalise(str(_field(candidate, 'description', '')))}"
    text_all += " " + normalise(str(_field(candidate, "object_name", "")))
    names_poi = _contains(text_all, facts.name)
    names_city = _contains(text_all, facts.city)
    if distance is not None:
        weak.append(format_distance(distance))
    if names_city:
        weak.append(f"names {facts.city_label}")
    if strong:
        return Judgement(VERIFIED, tuple(strong + weak), STRENGTH[VERIFIED] + 0.1 * len(strong))

    category, other = _elsewhere_category(categories, facts.name, facts.city, facts.category)
    if category:
        detail = {"category": category, "place": other}
        return _dropped(ELSEWHERE, Drop.ELSEWHERE_CATEGORY, detail, *weak)
    if far:
        return _dropped(ELSEWHERE, Drop.ELSEWHERE_DISTANCE, {"metres": distance or 0.0})
    place = _elsewhere_description(str(_field(candidate, "description", "")), poi.name, facts.city)
    if place and not names_city and distance is None:
        return _dropped(ELSEWHERE, Drop.ELSEWHERE_DESCRIPTION, {"place": place})

    near = distance is not None and distance <= conf.RELEVANCE_NEAR_METRES
    in_city = distance is not None or names_city
    if near or (names_poi and in_city):
        return Judgement(LIKELY, tuple(weak), STRENGTH[LIKELY])
    return Judgement(UNKNOWN, tuple(weak), STRENGTH[UNKNOWN])


def _strong_evidence(
    candidate: Any, title: str, categories: list[str], found_by: set[str], facts: _Facts
) -> list[str]:
    strong: list[str] = []
    is_p18 = bool(facts.p18) and normalise(title.removeprefix("File:")) == facts.p18
    if is_p18 or "wikidata" in found_by or _field(candidate, "source", "") == "wikidata":
        strong.append("Wikidata image")
    if "depicts" in found_by and facts.qid:
        strong.append(f"depicts {facts.qid}")
    own = next((c for c in categories if facts.category and normalise(c) == facts.category), "")
    if own:
        strong.append(f"in Category:{own}")
    elif "category" in found_by and facts.category:
        strong.append("in the item's Commons category")
    if not own and facts.name and facts.city:
        named = next(
            (
                c
                for c in categories
                if _contains(normalise(c), facts.name) and _contains(normalise(c), facts.city)
            ),
            "",
        )
        if named:
            strong.append(f"in Category:{named}")
    return strong


def _distance(candidate: Any, facts: _Facts) -> float | None:
    lat, lon = _field(candidate, "latitude", None), _field(candidate, "longitude", None)
    if facts.point is None or lat is None or lon is None:
        return None
    try:
        return distance_m(facts.point, (float(lat), float(lon)))
    except (TypeError, ValueError):
        return None
