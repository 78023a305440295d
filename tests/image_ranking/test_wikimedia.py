"""The Commons client against the loopback replica (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from image_ranking.commons import client as wikimedia
from image_ranking.commons import records
from image_ranking.commons.categories import about_non_photo
from image_ranking.commons.client import CommonsClient, filter_drop
from image_ranking.commons.ratelimit import RateLimiter
from image_ranking.commons.records import Candidate
from image_ranking.commons.schema import MalformedResponseError
from image_ranking.drops import sentence
from image_ranking.exceptions import (
    CommonsError,
    DisallowedHostError,
    DownloadTooLargeError,
    TransientCommonsError,
)
from image_ranking.poi import PoiInfo
from tests.image_ranking.ranking_helpers import FakeTime

pytestmark = pytest.mark.django_db


def filter_reason(candidate):
    return sentence(*filter_drop(candidate))


def fetch_candidates(client, poi, limit=10, *, include_filtered=False):
    """The POI's candidates (``gather_one``), Wikidata image first, filtered ones left out."""
    found = client.gather_one(poi, limit).candidates
    return [c for c in found if include_filtered or not c.drop]


def fetch_candidates_for_pois(client, pois, limit=10):
    """Candidates (filtered ones included) by POI pk: ``gather`` without the items."""
    return {pk: g.candidates for pk, g in client.gather(list(pois), limit).items()}


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def client(commons_settings, fake_time):
    limiter = RateLimiter(clock=fake_time.clock, sleep=fake_time.sleep)
    return CommonsClient(thumb_width=330, limiter=limiter, sleep=fake_time.sleep)


class Poi:
    def __init__(self, pk, name, wikidata_id=""):
        self.pk, self.name, self.wikidata_id = pk, name, wikidata_id


@pytest.fixture
def eiffel(commons_replica):
    r = commons_replica
    r.add_file("File:Tour Eiffel.jpg", size=(4000, 3000), color=(200, 170, 90))
    r.add_file("File:Tour Eiffel night.jpg", size=(2000, 1500))
    r.add_file("File:Plan de la tour Eiffel.png", size=(2000, 1500), mime="image/png")
    r.add_file("File:Eiffel logo.svg", size=(1000, 1000), mime="image/svg+xml")
    r.add_file("File:Tour Eiffel brochure.pdf", size=(1240, 1754), mime="application/pdf")
    r.add_file("File:Tour Eiffel small.jpg", size=(320, 240))
    r.add_file("File:Tour Eiffel panorama.jpg", size=(8000, 1000))
    r.add_file("File:Drapeau France Tour Eiffel.jpg", size=(1600, 1200))
    r.add_file("File:Tour Eiffel scan.tif", size=(3000, 2000), mime="image/tiff")
    r.add_file("File:Tour Eiffel video.webm", size=(1920, 1080), mime="video/webm")
    r.set_search("Tour Eiffel", list(r.files))
    r.set_wikidata("Q243", "File:Tour Eiffel night.jpg")
    return r


def test_one_request_per_search_at_330_px_in_search_order(client, eiffel):
    found = fetch_candidates(client, Poi(1, "Tour Eiffel"), limit=10)
    assert len(eiffel.api_requests) == 1 and client.request_count == 1
    params = eiffel.api_requests[0]
    assert params["generator"] == "search" and params["gsrnamespace"] == "6"
    assert params["gsrsearch"] == "Tour Eiffel" and params["gsrlimit"] == "10"
    assert params["iiurlwidth"] == "330" and params["maxlag"] == "5"
    assert params["formatversion"] == "2"
    assert [c.title for c in found] == ["File:Tour Eiffel.jpg", "File:Tour Eiffel night.jpg"]
    best = found[0]
    # On the thumbnail host, with Commons' utm_ query string, kept as given.
    assert best.thumbnail_url.startswith(eiffel.thumb_base_url) and best.thumbnail_width == 330
    assert urlsplit(best.thumbnail_url).path.endswith("/330px-Tour_Eiffel.jpg")
    assert "utm_content=thumbnail" in best.thumbnail_url
    assert (best.width, best.height, best.mime) == (4000, 3000, "image/jpeg")
    assert best.search_rank == 0 and best.source == "commons" and len(best.sha1) == 40
    assert best.page_url == "https://commons.wikimedia.org/wiki/File:Tour_Eiffel.jpg"
    assert eiffel.download_requests == []  # nothing downloaded to filter


def test_attribution_is_plain_text(client, eiffel):
    eiffel.files[
        "File:Tour Eiffel.jpg"
    ].author_html = '<span class="fn"><a href="//x">Ren&eacute; <b>Dupont</b></a> &amp; co</span>'
    best = fetch_candidates(client, Poi(1, "Tour Eiffel"))[0]
    assert best.author == "René Dupont & co"
    assert best.license_name == "CC BY-SA 4.0"
    assert best.license_url == "https://creativecommons.org/licenses/by-sa/4.0"
    assert best.attribution_required is True


def test_filters_say_why_each_file_was_dropped(client, eiffel):
    found = fetch_candidates(client, Poi(1, "Tour Eiffel"), include_filtered=True)
    reasons = {c.title: c.filtered_reason for c in found}
    assert reasons["File:Tour Eiffel.jpg"] == ""
    assert reasons["File:Plan de la tour Eiffel.png"].startswith("title marks a map")
    assert reasons["File:Eiffel logo.svg"] == "not a raster photo (image/svg+xml)"
    assert reasons["File:Tour Eiffel brochure.pdf"] == "not a raster photo (application/pdf)"
    assert reasons["File:Tour Eiffel scan.tif"] == "not a raster photo (image/tiff)"
    assert reasons["File:Tour Eiffel video.webm"] == "not a raster photo (video/webm)"
    assert reasons["File:Tour Eiffel small.jpg"].startswith("too small (320 px wide")
    assert reasons["File:Tour Eiffel panorama.jpg"] == "extreme aspect ratio (8.0:1)"
    assert reasons["File:Drapeau France Tour Eiffel.jpg"].startswith("title marks")
    assert eiffel.download_requests == []


@pytest.mark.parametrize(
    "title",
    [
        "File:Coat of arms of Paris.jpg",
        "File:Signature of Gustave Eiffel.jpg",
        "File:Paris_location_map.jpg",
        "File:Wappen Berlin.jpg",
        "File:Metro diagram.jpg",
    ],
)
def test_title_filter(title):
    cand = Candidate(title, "u", "t", 330, 200, 2000, 1500, "image/jpeg", "s", "p")
    assert filter_reason(cand).startswith("title marks")


def test_title_filter_spares_ordinary_names():
    for title in (
        "File:Place de la Concorde.jpg",
        "File:Planetarium Paris.jpg",
        "File:Flagship store.jpg",
        "File:Mapplethorpe expo.jpg",
    ):
        cand = Candidate(title, "u", "t", 330, 200, 2000, 1500, "image/jpeg", "s", "p")
        assert filter_reason(cand) == "", title


def test_formatversion_1_pages_parse_alike():
    payload = {
        "query": {
            "pages": {
                "12": {
                    "title": "File:A.jpg",
                    "index": 2,
                    "imageinfo": [
                        {
                            "url": "u",
                            "thumburl": "t",
                            "width": 1000,
                            "height": 800,
                            "mime": "image/jpeg",
                            "sha1": "x",
                            "descriptionurl": "d",
                            "extmetadata": {},
                        }
                    ],
                }
            }
        }
    }
    pages = wikimedia.query_pages(payload)
    cand = wikimedia.candidate_from_page(pages[0])
    assert cand.title == "File:A.jpg" and cand.search_rank == 1 and cand.width == 1000


def test_wikidata_image_comes_first(client, eiffel):
    found = fetch_candidates(client, Poi(1, "Tour Eiffel", "Q243"))
    assert found[0].title == "File:Tour Eiffel night.jpg" and found[0].source == "wikidata"
    assert found[1].source == "commons"
    assert len(eiffel.wikidata_requests) == 1 and eiffel.wikidata_requests[0]["ids"] == "Q243"


def test_wikidata_lookups_are_batched_by_50(client, commons_replica):
    r = commons_replica
    pois = []
    for i in range(120):
        r.add_file(f"File:Place {i}.jpg")
        r.add_file(f"File:Place {i} street.jpg")
        r.set_wikidata(f"Q{i + 1}", f"File:Place {i}.jpg")
        # Odd places: the P18 image is a search result too, so it costs no extra request.
        results = [f"File:Place {i} street.jpg"] + ([f"File:Place {i}.jpg"] if i % 2 else [])
        r.set_search(f"Place {i}", results)
        pois.append(Poi(i, f"Place {i}", f"Q{i + 1}"))
    found = fetch_candidates_for_pois(client, pois)
    assert len(r.wikidata_requests) == 3  # 50 + 50 + 20
    assert [len(q["ids"].split("|")) for q in r.wikidata_requests] == [50, 50, 20]
    titles_requests = [q for q in r.api_requests if "titles" in q]
    assert [len(q["titles"].split("|")) for q in titles_requests] == [50, 10]  # 60 even ones
    for i in (6, 7):
        assert [c.title for c in found[i]] == [f"File:Place {i}.jpg", f"File:Place {i} street.jpg"]
        assert found[i][0].source == "wikidata" and found[i][0].search_rank == 0
    assert client.request_count == 3 + 2 + 120


def test_429_retry_after_is_waited_out_then_succeeds(client, eiffel, fake_time):
    eiffel.fail_next("/w/api.php", 429, {"Retry-After": "30"})
    found = fetch_candidates(client, Poi(1, "Tour Eiffel"))
    assert found and client.request_count == 2
    assert sum(fake_time.sleeps) >= 30  # the limiter held every request back


def test_503_then_success_backs_off(client, eiffel, fake_time):
    eiffel.fail_next("/w/api.php", 503)
    eiffel.fail_next("/w/api.php", 503)
    assert fetch_candidates(client, Poi(1, "Tour Eiffel"))
    assert client.request_count == 3 and fake_time.sleeps == [1.0, 2.0]


def test_maxlag_is_honoured(client, eiffel, fake_time):
    eiffel.maxlag_next(2)
    assert fetch_candidates(client, Poi(1, "Tour Eiffel"))
    assert client.request_count == 3
    assert sum(fake_time.sleeps) >= 10  # Retry-After: 5, twice


def test_retries_are_bounded(client, eiffel, settings):
    settings.IMAGE_RANKING_MAX_RETRIES = 2
    for _ in range(5):
        eiffel.fail_next("/w/api.php", 500)
    with pytest.raises(TransientCommonsError, match="HTTP 500"):
        fetch_candidates(client, Poi(1, "Tour Eiffel"))
    assert client.request_count == 3


def test_other_4xx_are_not_retried(client, eiffel):
    eiffel.fail_next("/w/api.php", 403, body=b"blocked: set a User-Agent")
    with pytest.raises(CommonsError, match="HTTP 403"):
        fetch_candidates(client, Poi(1, "Tour Eiffel"))
    assert client.request_count == 1


def test_user_agent_is_sent(client, eiffel, settings, monkeypatch):
    seen = []
    original = client.session.get
    monkeypatch.setattr(
        client.session,
        "get",
        lambda *a, **k: seen.append(client.session.headers["User-Agent"]) or original(*a, **k),
    )
    fetch_candidates(client, Poi(1, "Tour Eiffel"))
    assert seen == [settings.IMAGE_RANKING_USER_AGENT]


def test_download_thumbnail_bytes(client, eiffel):
    best = fetch_candidates(client, Poi(1, "Tour Eiffel"))[0]
    data = client.download_image(best.thumbnail_url)
    assert data[:2] == b"\xff\xd8" and client.request_count == 2


def test_disallowed_host_is_refused_without_a_request(client, eiffel, settings):
    with pytest.raises(DisallowedHostError, match="not in IMAGE_RANKING_DOWNLOAD_HOSTS"):
        client.download_image("http://169.254.169.254/latest/meta-data")
    with pytest.raises(DisallowedHostError, match="http"):
        client.download_image("file:///etc/passwd")
    assert client.request_count == 0


def test_allowed_name_resolving_to_loopback_is_refused(client, settings, commons_replica):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["localhost"]
    port = commons_replica.base_url.rsplit(":", 1)[1]
    with pytest.raises(DisallowedHostError, match="internal address"):
        client.download_image(f"http://localhost:{port}/x.jpg")
    assert client.request_count == 0


def test_redirect_to_a_disallowed_host_is_refused(client, eiffel):
    eiffel.redirect("/go.jpg", "http://10.1.2.3/internal.jpg")
    with pytest.raises(DisallowedHostError):
        client.download_image(eiffel.base_url + "/go.jpg")
    assert client.request_count == 1  # the redirect itself, never the target


def test_redirect_within_allowed_hosts_is_followed(client, eiffel):
    target = eiffel.original_url("File:Tour Eiffel night.jpg")
    eiffel.redirect("/moved.jpg", target)
    assert client.download_image(eiffel.base_url + "/moved.jpg")[:2] == b"\xff\xd8"


def test_oversized_download_is_aborted(client, commons_replica):
    url = commons_replica.serve_oversized("/huge.jpg", 5_000_000)
    with pytest.raises(DownloadTooLargeError, match="over the limit"):
        client.download_image(url, max_bytes=200_000)


def test_missing_file_is_an_error_not_retried(client, commons_replica):
    with pytest.raises(CommonsError, match="HTTP 404"):
        client.download_image(commons_replica.base_url + "/wikipedia/commons/a/ab/Gone.jpg")
    assert client.request_count == 1


def test_dead_network_is_a_transient_error(commons_settings, settings, fake_time):
    settings.IMAGE_RANKING_COMMONS_API_URL = "http://127.0.0.1:9/w/api.php"  # nothing listens
    settings.IMAGE_RANKING_MAX_RETRIES = 1
    client = CommonsClient(
        limiter=RateLimiter(clock=fake_time.clock, sleep=fake_time.sleep), sleep=fake_time.sleep
    )
    with pytest.raises(TransientCommonsError, match="Network error"):
        fetch_candidates(client, Poi(1, "Louvre"))
    assert client.request_count == 2


def test_standard_thumbnail_widths():
    assert wikimedia.standard_thumb_width(300) == 330
    assert wikimedia.standard_thumb_width(800) == 960
    assert wikimedia.standard_thumb_width(5000) == 3840
    assert CommonsClient(thumb_width=960).thumb_width == 960


# ------------------------------------------------------------------ relevance metadata


def test_extmetadata_gives_categories_assessments_geotag_and_description(client, commons_replica):
    r = commons_replica
    r.add_file(
        "File:Uhrturm Graz.jpg",
        categories=["Clock Tower (Graz)", "Category:Schlossberg_(Graz)"],
        assessments=["featured", "Quality"],
        gps=(47.0737, 15.4375),
        description='<p>The <a href="/wiki/Clock">clock tower</a> on the Schlossberg &amp; sky</p>',
        object_name="<b>Uhrturm</b>",
    )
    best = client.search("Uhrturm")[0]
    assert best.categories == ("Clock Tower (Graz)", "Schlossberg (Graz)")
    assert best.assessments == ("featured", "quality")
    assert (best.latitude, best.longitude) == (47.0737, 15.4375)
    assert best.description == "The clock tower on the Schlossberg & sky"
    assert best.object_name == "Uhrturm"
    asked = r.api_requests[0]["iiextmetadatafilter"].split("|")
    assert {"Categories", "Assessments", "GPSLatitude", "ImageDescription"} <= set(asked)


@pytest.mark.parametrize(
    ("lat", "lon"), [("north", "15.4"), ("47.1", ""), ("95", "15.4"), ("nan", "1"), ("inf", "2")]
)
def test_bad_geotags_are_no_geotag(lat, lon):
    meta = {"GPSLatitude": {"value": lat}, "GPSLongitude": {"value": lon}}
    assert wikimedia.geotag(meta) == (None, None)


def test_plain_text_strips_tags_between_cells():
    assert wikimedia.plain_text("<td>Graz</td><td>Austria</td>") == "Graz Austria"
    assert wikimedia.plain_text("Caf&eacute; <script>x</script>") == "Café x"
    assert wikimedia.plain_text(None) == ""


def test_categories_are_weighed_by_the_judge_not_the_filters():
    # What a category says a file is about is evidence the judge weighs against a geotag
    # (test_relevance, test_commons_real); the client's filters read the file alone.
    base = Candidate("File:IMG_0042.jpg", "u", "t", 330, 200, 2000, 1500, "image/jpeg", "s", "p")
    plan = replace(base, categories=("Clock Tower (Graz)", "Floor plans of Graz"))
    assert filter_reason(plan) == ""
    assert about_non_photo("Floor plans of Graz") == "floor plans"
    assert about_non_photo("Coats of arms of Graz") == "coats of arms"
    for photo in ("Clock Tower (Graz)", "Planetarium", "Flagship stores", "Flags on buildings"):
        assert about_non_photo(photo) == "", photo


def test_wikidata_items_carry_p18_p373_p625_and_commonswiki(client, commons_replica):
    r = commons_replica
    r.set_wikidata(
        "Q1030437",
        "File:Uhrturm Graz.jpg",
        category="Clock Tower (Graz)",
        coordinates=(47.0737, 15.4375),
        commonswiki="Category:Clock Tower (Graz)",
        label="Clock Tower",
    )
    r.set_wikidata("Q2", commonswiki="Category:Earth")
    r.set_wikidata("Q3")  # an item without any of those claims
    items = client.fetch_wikidata_items(["q1030437", "Q2", "Q3", "Q4", "not-an-id", "Q1030437"])
    item = items["Q1030437"]
    assert item.image == "File:Uhrturm Graz.jpg" and item.commons_category == "Clock Tower (Graz)"
    assert item.coordinates == (47.0737, 15.4375)
    assert item.commonswiki == "Category:Clock Tower (Graz)" and item.labels == {
        "en": "Clock Tower"
    }
    assert items["Q2"].commons_category is None and items["Q2"].image is None
    assert items["Q3"] == records.WikidataItem("Q3")
    assert "Q4" not in items  # Wikidata answers {"id": "Q4", "missing": ""}
    # One request; the malformed id is not sent (it would fail the whole batch).
    assert [q["ids"] for q in r.wikidata_requests] == ["Q1030437|Q2|Q3|Q4"]
    assert r.wikidata_requests[0]["props"] == "claims|sitelinks|labels"


def test_deprecated_claims_are_skipped_and_preferred_ones_win():
    def claim(value, rank="normal", prop="P18"):
        snak = {"snaktype": "value", "property": prop, "datavalue": {"value": value}}
        return {"mainsnak": snak, "rank": rank}

    entity = {
        "claims": {
            "P18": [claim("Old.jpg", "deprecated"), claim("A.jpg"), claim("B.jpg", "preferred")],
            "P625": [claim({"latitude": 1, "longitude": 2, "globe": "x/Q405"}, prop="P625")],
            "P373": [claim({"no": "string"}, prop="P373"), claim("Graz_Old Town", prop="P373")],
        }
    }
    item = wikimedia.wikidata_item("Q1", entity)
    assert item.image == "File:B.jpg"
    assert item.coordinates is None  # on the Moon
    assert item.commons_category == "Graz Old Town"


# ------------------------------------------------------------------ gather: a plan per POI

GRAZ = (47.0707, 15.4395)
BOSTON = (42.3601, -71.0589)


def searches(replica) -> list[str]:
    return [q["gsrsearch"] for q in replica.api_requests if q.get("generator") == "search"]


def test_item_with_a_category_costs_one_search_in_it_p18_first(client, commons_replica):
    r = commons_replica
    for n in range(4):
        r.add_file(f"File:Uhrturm {n}.jpg", categories=["Clock Tower (Graz)"])
    r.add_file("File:Uhrturm plan.svg", mime="image/svg+xml", categories=["Clock Tower (Graz)"])
    r.add_file("File:Clock Tower Boston.jpg", categories=["Clock towers in Boston"])
    r.set_wikidata("Q1", "File:Uhrturm 2.jpg", category="Clock Tower (Graz)")
    poi = PoiInfo(7, "Clock Tower", "Q1", "Graz", *GRAZ)
    gathered = client.gather([poi])[7]
    assert searches(r) == ['incategory:"Clock Tower (Graz)" filetype:bitmap']
    assert client.request_count == 2  # wbgetentities + one search; P18 was a result
    titles = [c.title for c in gathered.candidates]
    assert titles == [f"File:Uhrturm {n}.jpg" for n in (2, 0, 1, 3)]
    first = gathered.candidates[0]
    assert first.source == "wikidata" and first.found_by == ("wikidata", "category")
    assert [c.search_rank for c in gathered.candidates] == [0, 1, 2, 3]
    assert gathered.candidates[1].found_by == ("category",)
    assert gathered.item.commons_category == "Clock Tower (Graz)"


def test_commonswiki_category_stands_in_for_a_missing_p373(client, commons_replica):
    r = commons_replica
    for n in range(3):
        r.add_file(f"File:Kunsthaus {n}.jpg", categories=["Kunsthaus Graz"])
    r.set_wikidata("Q2", commonswiki="Category:Kunsthaus Graz")
    client.gather_one(PoiInfo(1, "Kunsthaus", "Q2", "Graz"))
    assert searches(r) == ['incategory:"Kunsthaus Graz" filetype:bitmap']


def test_thin_category_adds_the_name_with_the_city(client, commons_replica):
    r = commons_replica
    r.add_file("File:Murinsel.jpg", categories=["Murinsel"])
    r.add_file("File:Murinsel at night.jpg", categories=["Murinsel by night", "Graz at night"])
    r.set_wikidata("Q3", category="Murinsel", coordinates=GRAZ)
    found = client.gather_one(PoiInfo(1, "Murinsel", "Q3", "Graz")).candidates
    assert searches(r) == ['incategory:"Murinsel" filetype:bitmap', "Murinsel Graz"]
    assert [(c.title, c.found_by) for c in found] == [
        ("File:Murinsel.jpg", ("category",)),
        ("File:Murinsel at night.jpg", ("name",)),
    ]


def test_unique_name_without_evidence_costs_one_search(client, commons_replica):
    r = commons_replica
    for n in range(12):
        r.add_file(f"File:Schlossbergbahn {n}.jpg")  # no geotag, no category
    found = client.gather_one(PoiInfo(1, "Schlossbergbahn", "", "Graz", *GRAZ)).candidates
    assert searches(r) == ["Schlossbergbahn"] and client.request_count == 1
    assert len(found) == 10 and all(c.found_by == ("name",) for c in found)


def namesakes(replica, count: int = 10) -> None:
    for n in range(count):
        replica.add_file(
            f"File:Old Bridge Boston {n}.jpg",
            categories=["Bridges in Boston"],
            gps=BOSTON,
        )


def test_full_page_of_namesakes_adds_the_name_with_the_city(client, commons_replica):
    r = commons_replica
    namesakes(r)
    r.add_file("File:Old Bridge 1.jpg", categories=["Bridges in Aldmere"])
    r.add_file("File:Old Bridge 2.jpg", description="The old bridge of Aldmere at dawn")
    poi = PoiInfo(1, "Old Bridge", "", "Aldmere", *GRAZ)
    found = client.gather_one(poi).candidates
    assert searches(r) == ["Old Bridge", "Old Bridge Aldmere"]
    # The narrower query's files first: they are this place's; the namesakes stay for the
    # judge to drop with a reason.
    assert [(c.title, c.found_by) for c in found[:2]] == [
        ("File:Old Bridge 1.jpg", ("name",)),
        ("File:Old Bridge 2.jpg", ("name",)),
    ]
    assert len(found) == 12 and all("Boston" in c.title for c in found[2:])


def test_namesakes_without_a_city_name_narrow_by_coordinates(client, commons_replica):
    r = commons_replica
    namesakes(r)
    r.add_file("File:Old Bridge at dusk.jpg", gps=(47.0712, 15.4401))
    found = client.gather_one(PoiInfo(1, "Old Bridge", "", "", *GRAZ)).candidates
    assert searches(r) == ["Old Bridge", "Old Bridge nearcoord:2km,47.07070,15.43950"]
    assert found[0].title == "File:Old Bridge at dusk.jpg" and found[0].found_by == ("geo",)
    assert found[0].search_rank == 0 and found[1].search_rank == 1


def test_namesakes_with_only_an_item_narrow_by_depicts(client, commons_replica):
    r = commons_replica
    namesakes(r)
    r.add_file("File:IMG 2041.jpg", depicts=["Q5"])
    r.set_wikidata("Q5")
    found = client.gather_one(PoiInfo(1, "Old Bridge", "Q5")).candidates
    # No city, no coordinates: Boston's geotags say nothing; categories say nothing either.
    assert searches(r) == ["Old Bridge"]
    r.requests.clear()
    r.set_wikidata("Q5", coordinates=GRAZ)  # the item knows where it is: P625
    r.files["File:IMG 2041.jpg"].gps = None
    client.gather_one(PoiInfo(1, "Old Bridge", "Q5"))
    assert searches(r) == ["Old Bridge", "Old Bridge nearcoord:2km,47.07070,15.43950"]
    assert found and all("depicts" not in c.found_by for c in found)


def test_depicts_query_when_neither_city_nor_coordinates():
    from image_ranking.commons import search as commons_search

    poi = PoiInfo(1, "Old Bridge", "Q5")
    item = records.WikidataItem("Q5")
    assert commons_search.narrow_query(poi, item, None).search == "haswbstatement:P180=Q5"
    assert commons_search.narrow_query(PoiInfo(1, "Old Bridge"), None, None) is None


def test_short_namesake_page_is_not_narrowed(client, commons_replica):
    namesakes(commons_replica, count=4)
    client.gather_one(PoiInfo(1, "Old Bridge", "", "Aldmere", *GRAZ))
    assert searches(commons_replica) == ["Old Bridge"]  # the narrower query is a subset


def test_names_cannot_smuggle_search_keywords(client, commons_replica):
    commons_replica.add_file("File:Secret.jpg", categories=["Hidden"])
    client.gather_one(PoiInfo(1, 'Bar -x incategory:"Hidden" (Graz)'))
    assert searches(commons_replica) == ["Bar x incategory Hidden Graz"]


def test_gather_batches_items_and_p18_images(client, commons_replica):
    r = commons_replica
    pois = []
    for i in range(60):
        r.add_file(f"File:Spot {i}.jpg", categories=[f"Spot {i}"])
        r.add_file(f"File:Spot {i} b.jpg", categories=[f"Spot {i}"])
        r.add_file(f"File:Spot {i} c.jpg", categories=[f"Spot {i}"])
        r.add_file(f"File:Spot {i} P18.jpg")  # not in the category: fetched by title
        r.set_wikidata(f"Q{100 + i}", f"File:Spot {i} P18.jpg", category=f"Spot {i}")
        pois.append(PoiInfo(i, f"Spot {i}", f"Q{100 + i}", "Graz"))
    gathered = client.gather(pois)
    assert len(r.wikidata_requests) == 2  # 50 + 10
    assert [len(q["titles"].split("|")) for q in r.api_requests if "titles" in q] == [50, 10]
    assert client.request_count == 2 + 60 + 2
    assert gathered[7].candidates[0].title == "File:Spot 7 P18.jpg"
    assert gathered[7].candidates[0].found_by == ("wikidata",)


def test_a_failing_search_leaves_only_that_poi_out(client, commons_replica, settings):
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    commons_replica.add_file("File:A 1.jpg")
    commons_replica.add_file("File:B 1.jpg")
    commons_replica.fail_next("/w/api.php", 500)
    gathered = client.gather([PoiInfo(1, "A"), PoiInfo(2, "B")])
    assert list(gathered) == [2] and gathered[2].item is None
    with pytest.raises(TransientCommonsError):
        commons_replica.fail_next("/w/api.php", 500)
        client.gather_one(PoiInfo(1, "A"))


# ------------------------------------------------------------------ odd answers


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"query": "oops"}, "answer.query is str, expected an object"),
        (["query"], "answer is list, expected an object"),
        ("query", "answer is str, expected an object"),
        (None, "answer is null"),
        ({"query": {"pages": "x"}}, "answer.query.pages is str, expected a list or an object"),
        ({"query": {"pages": [{"title": "File:A.jpg", "imageinfo": {}}]}}, "imageinfo is dict"),
        ({"query": {"pages": ["File:A.jpg"]}}, "answer.query.pages[0] is str"),
        ({"query": {"pages": [{"imageinfo": []}]}}, "answer.query.pages[0] has no 'title'"),
        (
            {"query": {"pages": [{"title": "File:A.jpg", "imageinfo": [{"width": "330"}]}]}},
            "answer.query.pages[0].imageinfo[0].width is str, expected an integer",
        ),
        (
            {"query": {"pages": [{"title": "File:A.jpg", "imageinfo": [{"width": True}]}]}},
            "width is bool",
        ),
        (
            {"query": {"pages": [{"title": "A", "imageinfo": [{"extmetadata": {"X": [1]}}]}]}},
            "extmetadata.X is list",
        ),
    ],
)
def test_odd_search_answers_are_transient_errors_that_name_the_field(
    client, commons_replica, payload, message
):
    commons_replica.answer_next("/w/api.php", payload)
    with pytest.raises(MalformedResponseError, match=re.escape(message)) as caught:
        client.search("Tour Eiffel")
    assert isinstance(caught.value, TransientCommonsError)  # asked again on a later run
    assert client.request_count == 1  # not hammered now


def test_odd_wikidata_answers_raise_for_the_batch(client, commons_replica):
    commons_replica.answer_next("/wikidata/api.php", {"entities": ["Q1"]})
    with pytest.raises(MalformedResponseError, match="answer.entities is list"):
        client.gather([PoiInfo(1, "A", "Q1")])
    commons_replica.answer_next("/wikidata/api.php", {"entities": {"Q1": {"claims": {"P18": 3}}}})
    with pytest.raises(MalformedResponseError, match=r"answer.entities.Q1.claims.P18 is int"):
        client.fetch_wikidata_items(["Q1"])
    commons_replica.answer_next("/wikidata/api.php", {"success": 1})
    with pytest.raises(MalformedResponseError, match="has no 'entities'"):
        client.fetch_wikidata_items(["Q1"])


def test_odd_search_answer_leaves_the_poi_for_a_later_run(client, commons_replica):
    commons_replica.add_file("File:B 1.jpg")
    commons_replica.answer_next("/w/api.php", {"query": {"pages": [{"title": 5}]}})
    assert list(client.gather([PoiInfo(1, "A"), PoiInfo(2, "B")])) == [2]


def test_odd_error_object_is_a_malformed_answer(client, commons_replica, settings):
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    commons_replica.answer_next("/w/api.php", {"error": "oops"})
    with pytest.raises(MalformedResponseError, match="answer.error is str, expected an object"):
        client.search("Tour Eiffel")
    commons_replica.answer_next("/w/api.php", {"error": {"code": "badvalue", "info": "<b>No</b>"}})
    with pytest.raises(CommonsError, match="Wikimedia API error badvalue: No"):
        client.search("Tour Eiffel")
