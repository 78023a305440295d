"""The real client, the relevance judge and the download check over real answers of
Commons and Wikidata (``tests/data/commons_real``: recorded by Wikimedia's apps and
client libraries, and the 2026 shapes written from issue 21; see its README).

Each answer is served verbatim by the loopback replica (``answer_next``), so it goes
through the client's whole path: HTTP, the schema check, parsing, continuation.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from image_ranking.commons import categories
from image_ranking.commons.client import CommonsClient, WikidataItem
from image_ranking.commons.http import check_download_url
from image_ranking.commons.ratelimit import RateLimiter
from image_ranking.conf import Settings
from image_ranking.pipeline.relevance import judge
from image_ranking.poi import PoiInfo
from tests.image_ranking.ranking_helpers import FakeTime

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "data" / "commons_real"
API, WIKIDATA = "/w/api.php", "/wikidata/api.php"
# A public address for the Wikimedia host names: nothing is resolved or contacted.
PUBLIC = "208.80.154.240"


def answer(name: str) -> dict:
    payload = json.loads((DATA / name).read_text(encoding="utf-8"))
    # The wmde fixtures hold the ``query`` object of the answer.
    return payload if "query" in payload or "entities" in payload else {"query": payload}


def pages(payload: dict) -> list[dict]:
    found = payload["query"]["pages"]
    return list(found.values()) if isinstance(found, dict) else found


def meta_value(page: dict, key: str):
    return page["imageinfo"][0].get("extmetadata", {}).get(key, {}).get("value")


@pytest.fixture
def replica(commons_settings):
    return commons_settings


@pytest.fixture
def client(replica):
    time = FakeTime()
    client = CommonsClient(
        limiter=RateLimiter(clock=time.clock, sleep=time.sleep), sleep=time.sleep
    )
    client.replica = replica  # the next answers are scripted on it (answer_next)
    return client


IMAGEINFO_ANSWERS = [
    "ios_dog_lead_imageinfo_en.json",
    "ios_anatomy_dog_imageinfo_de.json",
    "wmde_imageinfo_normalized.json",
    "wmde_imagesinfo_missing_known.json",
    "wptools_imageinfo_fv2_missing_known.json",
    "ours_search_2026_thumbhost_hidden.json",
    "ours_geosearch.json",
]


@pytest.mark.parametrize("name", IMAGEINFO_ANSWERS)
def test_every_imageinfo_answer_parses_and_fields_are_what_the_json_says(client, name):
    payload = answer(name)
    client_pages = [p for p in pages(payload) if p.get("imageinfo")]
    titles = [p["title"] for p in client_pages]
    replica_answer(client, payload)
    found = client.image_info(titles)
    # "missing" + "known" pages are files too (of the shared repository).
    assert set(titles) <= set(found) and len({id(c) for c in found.values()}) == len(titles)
    for page in client_pages:
        cand, info = found[page["title"]], page["imageinfo"][0]
        assert cand.image_url == info["url"] and cand.thumbnail_url == info.get("thumburl", "")
        assert (cand.width, cand.height) == (info.get("width"), info.get("height"))
        assert cand.thumbnail_width == info.get("thumbwidth")
        assert cand.page_url == info["descriptionurl"]
        assert cand.license_name == (meta_value(page, "LicenseShortName") or "")
        listed = page.get("categories")
        if listed is not None:  # prop=categories with clshow=!hidden: exactly those
            assert cand.categories == tuple(c["title"].removeprefix("Category:") for c in listed)
        elif meta_value(page, "Categories") is not None:  # extmetadata: hidden ones left out
            every = meta_value(page, "Categories").split("|")
            assert cand.categories == tuple(c for c in every if not categories.is_hidden(c))
        assessments = meta_value(page, "Assessments") or ""
        assert cand.assessments == tuple(a for a in assessments.split("|") if a)


def replica_answer(client: CommonsClient, payload: dict, path: str = API) -> None:
    """The next request to ``path`` gets ``payload``, verbatim."""
    client.replica.answer_next(path, payload)


def test_recorded_fields_wmde(client):
    replica_answer(client, answer("wmde_imageinfo_normalized.json"))
    found = client.image_info(["File:Apple_Lisa2-IMG_1517.jpg"])
    # Asked with underscores, answered normalised: both keys lead to the file.
    cand = found["File:Apple_Lisa2-IMG_1517.jpg"]
    assert found["File:Apple Lisa2-IMG 1517.jpg"] is cand
    assert cand.author == "Rama & Musée Bolo"
    assert cand.license_name == "CC BY-SA 2.0 fr" and cand.attribution_required is True
    # "Self-published work", the licence "CeCILL" and the sponsor's tracking are hidden.
    assert cand.categories == ("Apple Lisa", "Musée Bolo")
    assert cand.description.startswith("The making of this document was supported by")
    assert cand.assessments == ()


def test_multilingual_description_reads_english(client):
    replica_answer(client, answer("ios_dog_lead_imageinfo_en.json"))
    cand = client.image_info(["File:Collage_of_Nine_Dogs.jpg"])["File:Collage of Nine Dogs.jpg"]
    assert cand.description == "Montage of nine dogs"
    assert cand.author.startswith("YellowLabradorLooking_new.jpg : *derivative work: Djmirko")
    assert (cand.width, cand.height) == (1665, 1463)


def test_search_order_follows_index_not_page_order(client):
    replica_answer(client, answer("searchvue_generator_search.json"))
    found = client.search("filetype:bitmap custommatch:depicts_or_linked_from=Q146")
    assert [c.title for c in found] == [
        "File:Cat November 2010-1a.jpg",
        "File:Collage of Six Cats-02.jpg",
        "File:Cat poster 1.jpg",
        "File:Collage of Six Cats-01.jpg",
        "File:Cat poster 2.jpg",
        "File:Felis catus-cat on snow.jpg",
    ]
    assert [c.search_rank for c in found] == [0, 1, 2, 3, 4, 5]


def test_2026_search_answer(client):
    replica_answer(client, answer("ours_search_2026_thumbhost_hidden.json"))
    found = {c.title: c for c in client.search("Musterstadt")}
    street = found["File:Musterstadt Hauptstraße 2012.jpg"]
    # Visible categories only: no "Pages with maps", no licence, no tracking.
    assert street.categories == ("Hauptstraße (Musterstadt)", "Streets in Musterstadt")
    assert (street.latitude, street.longitude) == (50.123456, 8.654321)
    assert street.description == "Blick in die Hauptstraße in Richtung Westen"
    assert urlsplit(street.thumbnail_url).hostname == "thumb.wikimedia.org"
    church = found["File:St. Marien Musterstadt Ikonostase.jpg"]
    assert church.assessments == ("poty", "potd", "featured", "quality", "valued")
    assert church.attribution_required is False and church.license_name == "CC0"
    assert "Flags on buildings in Musterstadt" in church.categories
    small = found["File:Musterstadt Brunnen.jpg"]
    # thumbwidth echoes the asked width; the file is 484 px wide (served unscaled).
    assert (small.width, small.thumbnail_width) == (484, 960)
    assert "utm_content=thumbnail_unscaled" in small.thumbnail_url
    assert small.filtered_reason.startswith("too small (484 px")
    assert all(c.filtered_reason == "" for c in (street, church))


def test_real_thumbnail_urls_pass_the_default_allow_list(settings):
    # The app's default list, not the test suite's.
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = Settings.DOWNLOAD_HOSTS.default
    urls = []
    for name in IMAGEINFO_ANSWERS:
        for page in pages(answer(name)):
            info = (page.get("imageinfo") or [{}])[0]
            urls += [u for u in (info.get("thumburl"), info.get("url")) if u]
    assert {urlsplit(u).hostname for u in urls} == {"upload.wikimedia.org", "thumb.wikimedia.org"}
    for url in urls:
        checked = check_download_url(url, resolve=lambda host, port: [PUBLIC])
        assert checked.host in ("upload.wikimedia.org", "thumb.wikimedia.org")
        assert "utm_" not in url or urlsplit(checked.url).query  # the query string is kept


def test_a_batch_cut_by_continuation_asks_the_rest_again(client, replica):
    replica.answer_next(API, answer("ours_imageinfo_continued_batch.json"))
    rest = answer("ours_search_2026_thumbhost_hidden.json")
    street = pages(rest)[0]
    rathaus = {k: v for k, v in street.items() if k != "index"}
    rest["query"]["pages"] = [{**rathaus, "title": "File:Musterstadt Rathaus.jpg"}]
    replica.answer_next(API, rest)
    before = len(replica.api_requests)
    found = client.image_info(
        ["File:Musterstadt Hauptstraße 2012.jpg", "File:Musterstadt Rathaus.jpg"]
    )
    assert sorted(found) == [
        "File:Musterstadt Hauptstraße 2012.jpg",
        "File:Musterstadt Rathaus.jpg",
    ]
    again = replica.api_requests[before + 1 :]
    assert [q["titles"] for q in again] == ["File:Musterstadt Rathaus.jpg"]  # one more request


# ------------------------------------------------------------------ Wikidata


def items_of(client: CommonsClient, name: str, ids: list[str]) -> dict[str, WikidataItem]:
    replica_answer(client, answer(name), WIKIDATA)
    return client.fetch_wikidata_items(ids)


def test_several_p18_of_equal_rank_the_first_wins(client):
    items = items_of(client, "wptools_wbgetentities_three_p18.json", ["Q857243"])
    assert items["Q857243"].image == "File:Gujo Gifu Japan.jpg"


def test_novalue_snak_is_no_value_and_p373_is_read(client):
    items = items_of(client, "wptools_wbgetentities_novalue_p373.json", ["Q483718"])
    assert items["Q483718"].commons_category == "Foo Fighters"
    assert items["Q483718"].image is None and items["Q483718"].coordinates is None


def test_missing_item_is_left_out(client):
    assert items_of(client, "wptools_wbgetentities_missing.json", ["Q10908976"]) == {}


def test_redirect_ranks_globes_and_snaks(client):
    items = items_of(
        client, "ours_wbgetentities_redirect_ranks.json", ["Q100001", "Q100003", "Q100004"]
    )
    # Asked Q100001, answered Q100002 (merged): found under both ids.
    town_hall = items["Q100001"]
    assert items["Q100002"] is town_hall and town_hall.qid == "Q100002"
    assert town_hall.image == "File:Rathaus Musterstadt 2020.jpg"  # preferred; deprecated never
    assert town_hall.coordinates == (50.1234, 8.6543)  # the Moon's is no place on this map
    assert town_hall.commons_category == "Rathaus (Musterstadt)"
    assert town_hall.labels == {"de": "Rathaus Musterstadt", "fr": "Hôtel de ville de Musterstadt"}
    assert "Q100003" not in items
    assert items["Q100004"].image is None and items["Q100004"].coordinates is None


# ------------------------------------------------------------------ the judge

MUSTERSTADT = PoiInfo(
    pk=1, name="Hauptstraße", city_name="Musterstadt", latitude=50.1235, longitude=8.6544
)
ST_MARIEN = PoiInfo(
    pk=2, name="St. Marien", city_name="Musterstadt", latitude=50.124, longitude=8.655
)


def test_a_geotagged_file_in_its_places_category_is_kept(client):
    replica_answer(client, answer("ours_search_2026_thumbhost_hidden.json"))
    found = {c.title: c for c in client.search("Musterstadt")}
    street = judge(found["File:Musterstadt Hauptstraße 2012.jpg"], MUSTERSTADT)
    # "Pages with maps" is no evidence; "Richtung Westen" is a direction, not a namesake.
    assert street.verdict in ("verified", "likely"), street
    church = judge(found["File:St. Marien Musterstadt Ikonostase.jpg"], ST_MARIEN)
    assert church.verdict in ("verified", "likely"), church  # flags and icons are in photos
    old_map = judge(found["File:Musterstadt Stadtplan 1890.jpg"], MUSTERSTADT)
    assert old_map.verdict == "not_a_photo"


def test_rows_cached_with_hidden_categories_are_judged_without_them():
    # Before issue 21 rows kept extmetadata's whole list: "Pages with maps" came with it.
    class Row:
        title = "File:Musterstadt Hauptstraße 2012.jpg"
        categories = ["Hauptstraße (Musterstadt)", "Pages with maps", "Media with locations"]
        latitude, longitude = 50.123456, 8.654321
        description = ""

    verdict = judge(Row(), MUSTERSTADT)
    assert verdict.verdict != "not_a_photo" and "Pages with maps" not in " ".join(verdict.evidence)


def test_a_map_category_is_outweighed_by_a_geotag_but_not_without_one():
    class Row:
        title = "File:IMG_1234.jpg"
        categories = ["Maps of Musterstadt"]
        latitude, longitude = 50.1235, 8.6544

    assert judge(Row(), MUSTERSTADT).verdict != "not_a_photo"  # the pixels decide
    Row.latitude = Row.longitude = None
    assert judge(Row(), MUSTERSTADT).verdict == "not_a_photo"


def test_the_review_page_asks_other_widths_of_a_real_thumbnail_url():
    from image_ranking.views.tiles import thumb_at

    street = pages(answer("ours_search_2026_thumbhost_hidden.json"))[0]
    url = street["imageinfo"][0]["thumburl"]
    at_330 = thumb_at(url, 330)
    assert urlsplit(at_330).hostname == "thumb.wikimedia.org"
    assert urlsplit(at_330).path.endswith("/330px-Musterstadt_Hauptstra%C3%9Fe_2012.jpg")
    assert urlsplit(at_330).query == urlsplit(url).query
    unscaled = pages(answer("ours_search_2026_thumbhost_hidden.json"))[2]["imageinfo"][0]
    assert thumb_at(unscaled["thumburl"], 330) == ""  # an original: no other width to ask


def test_a_german_description_names_a_direction_not_a_place():
    # Read before as a namesake "in Richtung Westen" (German capitalises every noun).
    class Row:
        title = "File:IMG_0815.jpg"
        categories = ["Streets in Musterstadt"]
        latitude = longitude = None
        description = "Blick in die Hauptstraße in Richtung Westen"

    assert judge(Row(), MUSTERSTADT).verdict != "elsewhere"
    Row.categories = []
    assert judge(Row(), MUSTERSTADT).verdict != "elsewhere"
    Row.description = "Die Hauptstraße in Bad Homburg"  # a place: still told apart
    assert judge(Row(), MUSTERSTADT).verdict == "elsewhere"


def test_article_use_is_counted_from_globalusage(client):
    """Issue 24 orders downloads by article use: the count is what ``globalusage`` lists,
    and a list cut by ``gucontinue`` is counted as it came, without another request."""
    payload = answer("ours_search_globalusage.json")
    replica_answer(client, payload)
    before = client.request_count
    found = {c.title: c for c in client.search("Musterstadt")}
    assert client.request_count == before + 1  # the cut usage lists are not asked again
    by_title = {p["title"]: len(p.get("globalusage") or []) for p in pages(payload)}
    assert {t: found[t].article_uses for t in by_title} == by_title
    assert found["File:Musterstadt Hauptstraße 2012.jpg"].article_uses == 3
