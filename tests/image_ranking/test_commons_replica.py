"""The loopback replica's own semantics: what its CirrusSearch-like search, generators and
Wikidata answers return (so tests built on it mean what they say)."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest

from tests import replica_search
from tests.commons_replica import UTM

GRAZ = (47.0707, 15.4395)


def api(replica, url=None, **params) -> dict:
    query = urlencode({"format": "json", "formatversion": "2", **params})
    with urlopen(f"{url or replica.api_url}?{query}", timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


def titles(replica, search: str, **extra) -> list[str]:
    answer = api(replica, action="query", generator="search", gsrsearch=search, **extra)
    pages = (answer.get("query") or {}).get("pages") or []
    return [p["title"] for p in sorted(pages, key=lambda p: p.get("index", 0))]


@pytest.fixture
def graz(commons_replica):
    r = commons_replica
    r.add_file(
        "File:Uhrturm Graz.jpg",
        categories=["Clock Tower (Graz)", "Schlossberg (Graz)"],
        gps=(47.0737, 15.4375),
        depicts=["Q1030437"],
        assessments=["quality"],
    )
    r.add_file("File:IMG 2041.jpg", description="The clock tower at dawn", gps=GRAZ)
    r.add_file(
        "File:Clock Tower Boston.jpg", categories=["Clock towers in Boston"], gps=(42.36, -71.06)
    )
    r.add_file("File:Clock tower plan.svg", mime="image/svg+xml", categories=["Clock Tower (Graz)"])
    r.add_file("File:Café Sacher Wien.jpg", object_name="Café Sacher")
    return r


def test_every_word_must_match_title_description_or_categories(graz):
    assert titles(graz, "clock tower") == [
        "File:Clock Tower Boston.jpg",  # title words count most
        "File:Clock tower plan.svg",
        "File:Uhrturm Graz.jpg",  # in its category
        "File:IMG 2041.jpg",  # in its description
    ]
    assert titles(graz, "clock tower graz") == [
        "File:Clock tower plan.svg",  # two words in its title, one in a category
        "File:Uhrturm Graz.jpg",  # one in its title, two in a category
    ]
    assert titles(graz, "clock tower -boston -graz") == ["File:IMG 2041.jpg"]
    assert titles(graz, '"tower clock"') == []
    assert titles(graz, "cafe sacher") == ["File:Café Sacher Wien.jpg"]  # accents folded
    assert titles(graz, "clock towers") == titles(graz, "clock tower")  # plural folded


def test_keywords_narrow_and_combine(graz):
    assert titles(graz, 'incategory:"Clock Tower (Graz)"') == [
        "File:Uhrturm Graz.jpg",
        "File:Clock tower plan.svg",
    ]
    assert titles(graz, 'incategory:"Clock_Tower_(Graz)" filetype:bitmap') == [
        "File:Uhrturm Graz.jpg"
    ]
    assert titles(graz, "incategory:Graz") == []  # only direct categories, exact names
    assert titles(graz, "haswbstatement:P180=Q1030437") == ["File:Uhrturm Graz.jpg"]
    assert titles(graz, "haswbstatement:P180=Q1|P180=Q1030437") == ["File:Uhrturm Graz.jpg"]
    near = "clock nearcoord:2km,47.0707,15.4395"
    assert titles(graz, near) == ["File:Uhrturm Graz.jpg", "File:IMG 2041.jpg"]
    assert titles(graz, "clock nearcoord:100m,47.0707,15.4395") == ["File:IMG 2041.jpg"]
    assert titles(graz, "clock nearcoord:broken") == []
    assert titles(graz, "clock tower", gsrlimit="1") == ["File:Clock Tower Boston.jpg"]


def test_set_search_overrides_one_exact_query(graz):
    graz.set_search("clock tower", ["File:IMG 2041.jpg"])
    assert titles(graz, "clock tower") == ["File:IMG 2041.jpg"]
    assert titles(graz, "Clock tower") != ["File:IMG 2041.jpg"]  # another string: Cirrus


def generated(replica, generator: str, **params) -> list[str]:
    answer = api(replica, action="query", generator=generator, **params)
    pages = answer["query"]["pages"]
    assert all("index" not in p for p in pages)  # only search results are ranked
    return [p["title"] for p in pages]


def test_categorymembers_and_geosearch(graz):
    members = generated(
        graz, "categorymembers", gcmtitle="Category:Clock Tower (Graz)", gcmtype="file"
    )
    assert members == ["File:Clock tower plan.svg", "File:Uhrturm Graz.jpg"]
    near = generated(
        graz, "geosearch", ggscoord="47.0707|15.4395", ggsradius="10000", ggsnamespace="6"
    )
    assert near == ["File:IMG 2041.jpg", "File:Uhrturm Graz.jpg"]
    too_far = api(graz, action="query", generator="geosearch", ggscoord="1|2", ggsradius="20000")
    assert too_far["error"]["code"] == "badvalue"


def test_extmetadata_filter_is_honoured(graz):
    page = api(
        graz,
        action="query",
        titles="File:Uhrturm Graz.jpg",
        prop="imageinfo",
        iiprop="extmetadata",
        iiextmetadatafilter="Categories|GPSLatitude|Assessments",
    )["query"]["pages"][0]
    meta = page["imageinfo"][0]["extmetadata"]
    assert set(meta) == {"Categories", "GPSLatitude", "Assessments"}
    # All categories, hidden ones too (a geotagged file is in "Pages with maps").
    assert meta["Categories"]["value"] == (
        "CC-BY-SA-4.0|Clock Tower (Graz)|Media with locations|Pages with maps"
        "|Schlossberg (Graz)|Self-published work"
    )
    assert meta["GPSLatitude"]["value"] == "47.073700"


def test_wbgetentities_claims_sitelink_and_props(commons_replica):
    r = commons_replica
    r.set_wikidata(
        "Q1",
        "File:A.jpg",
        category="Category:Clock Tower (Graz)",
        coordinates=GRAZ,
        commonswiki="Category:Clock Tower (Graz)",
        label="Clock Tower",
    )
    entity = api(r, r.wikidata_url, action="wbgetentities", ids="Q1")["entities"]["Q1"]
    claims = entity["claims"]
    assert claims["P18"][0]["mainsnak"]["datavalue"]["value"] == "A.jpg"
    assert claims["P373"][0]["mainsnak"]["datavalue"]["value"] == "Clock Tower (Graz)"
    assert claims["P625"][0]["mainsnak"]["datavalue"]["value"]["latitude"] == GRAZ[0]
    assert entity["sitelinks"]["commonswiki"]["title"] == "Category:Clock Tower (Graz)"
    assert entity["labels"]["en"]["value"] == "Clock Tower"
    only = api(r, r.wikidata_url, action="wbgetentities", ids="Q1", props="labels")
    assert set(only["entities"]["Q1"]) == {"type", "id", "labels"}


def test_answer_next_serves_any_json_once(commons_replica):
    commons_replica.answer_next("/w/api.php", ["not", "an", "object"])
    assert api(commons_replica, action="query") == ["not", "an", "object"]
    assert api(commons_replica, action="query") == {"batchcomplete": True}


def test_query_parsing():
    parsed = replica_search.parse('Old "stone bridge" -x incategory:"A B|C" nearcoord:47,15')
    assert parsed.required == [["old"], ["stone", "bridge"]]
    assert parsed.excluded == [["x"]]
    assert parsed.categories == [{"a b", "c"}]
    assert parsed.near == [(47.0, 15.0, replica_search.DEFAULT_NEAR_KM)]


def test_visible_and_hidden_categories_as_commons_lists_them(graz):
    def categories(**extra) -> list:
        page = api(
            graz, action="query", titles="File:Uhrturm Graz.jpg", prop="categories", **extra
        )["query"]["pages"][0]
        return page["categories"]

    visible = categories(clshow="!hidden")
    assert [c["title"] for c in visible] == [
        "Category:Clock Tower (Graz)",
        "Category:Schlossberg (Graz)",
    ]
    flagged = {c["title"]: c.get("hidden", False) for c in categories(clprop="hidden")}
    assert flagged["Category:Pages with maps"] is True  # geotagged: as every such file
    assert (
        flagged["Category:CC-BY-SA-4.0"] is True and flagged["Category:Clock Tower (Graz)"] is False
    )
    hidden = categories(clshow="hidden")
    assert "Category:Clock Tower (Graz)" not in [c["title"] for c in hidden]


def test_thumbnails_on_a_second_host_with_utm_and_the_asked_width_echoed(graz):
    graz.add_file("File:Narrow.jpg", size=(484, 646))
    pages = api(
        graz,
        action="query",
        titles="File:Uhrturm Graz.jpg|File:Narrow.jpg",
        prop="imageinfo",
        iiprop="url|size",
        iiurlwidth="640",
    )["query"]["pages"]
    wide, narrow = (p["imageinfo"][0] for p in pages)
    assert wide["thumburl"].startswith(graz.thumb_base_url + "/wikipedia/commons/thumb/")
    assert wide["thumburl"].endswith("/960px-Uhrturm_Graz.jpg?" + UTM + "thumbnail")
    assert wide["url"].startswith(graz.base_url) and wide["url"].endswith(UTM + "original")
    assert (wide["thumbwidth"], wide["thumbheight"]) == (640, 480)  # asked, not served
    assert narrow["thumburl"].endswith(UTM + "thumbnail_unscaled")
    assert (narrow["thumbwidth"], narrow["thumbheight"]) == (640, 854)  # a 484 px file
    assert graz.thumb_host != "127.0.0.1"


def test_missing_and_redirected_items_and_labels_in_any_language(commons_replica):
    r = commons_replica
    r.set_wikidata("Q2", label="Town hall", labels={"de": "Rathaus"})
    r.redirect_item("Q1", "Q2")
    query = urlencode({"action": "wbgetentities", "ids": "Q1|Q3", "props": "labels"})
    with urlopen(f"{r.wikidata_url}?{query}", timeout=5) as response:  # noqa: S310
        entities = json.loads(response.read())["entities"]
    assert entities["Q1"]["id"] == "Q2"
    assert entities["Q1"]["redirects"] == {"from": "Q1", "to": "Q2"}
    assert set(entities["Q1"]["labels"]) == {"en", "de"}
    assert entities["Q3"] == {"id": "Q3", "missing": ""}


def test_a_description_in_several_languages_reads_english(commons_replica):
    r = commons_replica
    r.add_file(
        "File:Hauptstrasse.jpg", description={"de": "Blick in die Hauptstraße", "en": "Main street"}
    )
    page = api(
        r, action="query", titles="File:Hauptstrasse.jpg", prop="imageinfo", iiprop="extmetadata"
    )["query"]["pages"][0]
    assert page["imageinfo"][0]["extmetadata"]["ImageDescription"]["value"] == "Main street"
