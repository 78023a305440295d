"""What a Commons category (or a file title) is about: the one source of these rules.

Two questions, asked by the client, the search plan and the relevance judge alike:

- **Is a category hidden?** ``extmetadata.Categories`` lists every category of a file,
  hidden tracking, licence and maintenance ones included: every geotagged file is in
  "Pages with maps" and "Media with locations". The client asks ``prop=categories`` with
  ``clshow=!hidden`` in the same request, so Commons itself says which are visible;
  ``is_hidden`` is the fallback for answers without that list (rows cached before, an
  answer cut by continuation): the patterns of the hidden categories seen in real answers
  (tests/data/commons_real). Hidden categories never count as evidence of anything.
- **Is it about something that is not a photo?** "Maps of Paris", "Floor plans of X",
  "Coats of arms of X", "X (logos)", "Aldmere town plan": the category's (or title's) head
  names a map, plan, coat of arms... and the rest says *of what*. A word elsewhere says
  nothing: "Flags on buildings in X", "Icons in St. Mary's", "Seals of Helgoland" (the
  animals), "Map stands in X" are categories of photos.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Hidden categories seen in real answers: tracking (maps, locations, uploads, review),
# licences and source templates. Anchored on the whole name.
HIDDEN = re.compile(
    r"^(?:"
    r"pages with (?:maps|local coordinates.*|.*coordinates.*)|media with locations|"
    r"media (?:needing|lacking|missing) .*|files? (?:with|without|from|uploaded|by) .*|"
    r"self-published work|uploaded with .*|uploaded by .*|images? from .*|"
    r"photographs? taken on .*|.* photographs? taken on \d{4}-\d{2}-\d{2}|"
    r"personality rights warning|license migration.*|"
    r"(?:cc|gfdl|pd|fal|cecill|attribution|copyrighted|free art)(?:[- ].*)?|"
    r"public domain.*|all media supported by .*|supported by .*|"
    r"taken with .*|quality images.*|featured pictures.*|valued images.*|"
    r"pictures of the day.*|.*\bwiki loves .*"
    r")$",
    re.IGNORECASE,
)

# Heads that name something other than a photo of a place (singular or plural).
_NOUNS = (
    r"(?:(?:old|historic(?:al)?|historische|locator|location|relief|topographic(?:al)?|"
    r"street|city|town|tourist|transport|metro|railway|road|administrative|site|floor|"
    r"ground|architectural|construction)\s+)*"
    r"(?:maps?|plans?|floor ?plans?|ground ?plans?|site ?plans?|karten?|cartes?|mapas?|"
    r"planos?|pl[äa]ne?|grundriss(?:e)?|stadtpl[äa]ne?|coats? of arms|wappen|blasons?|"
    r"escudos?|heraldry|logos?|emblems?|flags?|diagrams?|charts?|blueprints?|"
    r"drawings?|sketch(?:es)?|engravings?|lithographs?|elevations?|cross[- ]sections?|"
    r"signatures?|schemas?|seals? \(emblem\)|insignia)"
)
# "Maps of X", "Coats of arms of X", "Plans showing X": the noun, then what it shows.
_ABOUT = re.compile(
    rf"^(?P<noun>{_NOUNS})\s+(?:of|showing|von|der|des|de|du|del|della|di)\b", re.IGNORECASE
)
# "Maps", "X (logos)", "Aldmere town plan": the noun alone, as qualifier or last word.
_ALONE = re.compile(rf"^(?P<noun>{_NOUNS})$", re.IGNORECASE)
_CLOSING = re.compile(rf"(?:\(\s*|^|[\s,_-])(?P<noun>{_NOUNS})\s*\)?$", re.IGNORECASE)
# German and Romance titles put the noun first: "Wappen Berlin", "Karte Paris", "Plano Madrid".
_LEADING = re.compile(
    r"^(?P<noun>wappen|karten?|stadtpl[äa]ne?|grundriss(?:e)?|cartes?|planos?|mapas?|"
    r"escudos?|blasons?|logos?|drapeaux?|flaggen?|banderas?)\s",
    re.IGNORECASE,
)
# Connectors that make the noun a thing *in* a place, photographed: "Flags on buildings".
_LOCATED = re.compile(r"\s+(?:in|on|at|near|inside|outside|with|from)\s+", re.IGNORECASE)
_EXTENSION = re.compile(r"\.[a-z0-9]{2,4}$", re.IGNORECASE)
_TRAILING_DATE = re.compile(r"(?:[\s,_-]+\(?(?:c\.\s*)?\d{3,4}s?\)?)+$")


def is_hidden(category: str) -> bool:
    """Whether ``category`` (without "Category:") looks like a hidden tracking, licence or
    maintenance category (for answers that do not say which are hidden)."""
    return bool(HIDDEN.match(category.strip()))


def visible(categories: Iterable[str]) -> tuple[str, ...]:
    """``categories`` without the hidden ones (by their names)."""
    return tuple(c for c in categories if c and not is_hidden(c))


def about_non_photo(name: str) -> str:
    """The noun phrase (lower case) when ``name`` (a category, or a file title) is about a
    map, plan, coat of arms, logo, flag, diagram or drawing, else ""."""
    text = _EXTENSION.sub("", name.removeprefix("File:").replace("_", " ")).strip()
    parts = _LOCATED.split(text, maxsplit=1)
    head = parts[0].strip()
    about = _ABOUT.match(head)
    if about:  # "Maps of X", even "Maps of buildings in X"
        return " ".join(about.group("noun").lower().split())
    if len(parts) > 1:  # "Flags on buildings in X": things in a place, photographed
        return ""
    plain = _TRAILING_DATE.sub("", head).strip()
    match = _ALONE.match(plain) or _CLOSING.search(plain) or _LEADING.match(plain)
    return " ".join(match.group("noun").lower().split()) if match else ""
