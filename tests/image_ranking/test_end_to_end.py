"""``rank_poi_images`` end to end: the real Commons client against the loopback replica,
real image bytes, the real storage; the brightness scorer picks predictable winners, and
one run goes through the real LAION scorer code on the tiny open_clip model."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from PIL import Image

from cities.models import City, PoiList, PointOfInterest, Validation
from image_ranking.drops import Drop
from image_ranking.models import ImageCandidate, SelectedImage
from tests.image_ranking.ranking_helpers import jpeg

# Old files are deleted on commit: run those callbacks as the real code would.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_immediately")]


@pytest.fixture
def city(commons_settings):
    r = commons_settings
    paris = City.objects.create(name="Paris", slug="paris")
    plist = PoiList.objects.create(city=paris, name="Essentials")
    names = {"Louvre": "Q19675", "Pantheon": "", "Bistro Nowhere": "", "Orsay": ""}
    for name, qid in names.items():
        plist.pois.add(
            PointOfInterest.objects.create(city=paris, name=name, category="see", wikidata_id=qid)
        )
    PointOfInterest.objects.create(city=paris, name="Unlisted", category="eat")
    r.add_file("File:Louvre dusk.jpg", size=(4000, 3000), color=(90, 90, 90))
    r.add_file("File:Louvre pyramid.jpg", size=(3000, 2000), color=(220, 210, 200))
    r.add_file("File:Louvre plan.png", size=(2000, 1500), mime="image/png", color=(255, 255, 255))
    r.add_file("File:Louvre small.jpg", size=(400, 300), color=(250, 250, 250))
    r.add_file("File:Louvre courtyard.jpg", size=(2400, 1600), color=(150, 150, 150))
    r.set_search(
        "Louvre",
        [
            "File:Louvre dusk.jpg",
            "File:Louvre pyramid.jpg",
            "File:Louvre plan.png",
            "File:Louvre small.jpg",
        ],
    )
    r.set_wikidata("Q19675", "File:Louvre courtyard.jpg")
    r.add_file("File:Pantheon logo.svg", size=(900, 900), mime="image/svg+xml")
    r.add_file("File:Pantheon dark.jpg", size=(2000, 1500), color=(20, 20, 20))
    r.set_search("Pantheon", ["File:Pantheon logo.svg", "File:Pantheon dark.jpg"])
    r.add_file("File:Orsay clock.jpg", size=(2000, 1500), color=(180, 160, 140))
    r.set_search("Orsay", ["File:Orsay clock.jpg"])
    r.set_search("Unlisted", ["File:Louvre pyramid.jpg"])
    return paris


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    result = call_command("rank_poi_images", *args, stdout=out, stderr=err)
    return result, out.getvalue()


def stored(name):
    poi = PointOfInterest.objects.get(name=name)
    with poi.image_file.open("rb") as handle:
        return Image.open(io.BytesIO(handle.read()))


def test_first_run_stores_winners_and_reports(city, brightness, commons_settings):
    r = commons_settings
    result, out = run("--missing-only")
    assert result["status"] == "success"
    assert result["processed_count"] == 4 and result["updated_count"] == 2
    assert result["no_image_count"] == 2 and result["failed_count"] == 0

    louvre = stored("Louvre")
    assert louvre.size[0] <= 800 and louvre.size[1] <= 600 and louvre.size == (800, 533)
    selected = SelectedImage.objects.get(poi__name="Louvre")
    # The Wikidata image is verified to show the Louvre; the brighter search results
    # have no evidence either way, so they only count when nothing verified passes.
    assert selected.title == "File:Louvre courtyard.jpg"
    assert selected.author == "Jane & Doe" and selected.license_name == "CC BY-SA 4.0"
    assert selected.page_url.endswith("File:Louvre_courtyard.jpg")
    assert stored("Orsay").size == (800, 600)

    # Thumbnails at 960 px, kept candidates only, never an original, no second download.
    assert {q["iiurlwidth"] for q in r.api_requests if "iiurlwidth" in q} == {"960"}
    downloads = r.download_requests
    assert all("/thumb/" in d and "/960px-" in d for d in downloads)
    assert not any("plan" in d or "small" in d or "logo" in d for d in downloads)
    # Louvre: only its verified P18 (it passes, so files without evidence are not
    # fetched); Pantheon 1, Orsay 1.
    assert len(downloads) == 1 + 1 + 1
    # 1 Wikidata batch + 1 imageinfo for its P18 + 4 searches + 3 thumbnails.
    assert result["request_count"] == len(r.requests) == 1 + 1 + 4 + 3

    pantheon = Validation.objects.get(poi__name="Pantheon", resolved=False)
    assert "below the threshold" in pantheon.description and "Paris" in pantheon.description
    nowhere = Validation.objects.get(poi__name="Bistro Nowhere", resolved=False)
    assert "no candidate images" in nowhere.description
    unlisted = PointOfInterest.objects.get(name="Unlisted")
    assert not unlisted.image_file and not ImageCandidate.objects.filter(poi=unlisted).exists()


def test_rerun_with_all_costs_nothing_when_nothing_changed(city, brightness, commons_settings):
    run()
    before = len(commons_settings.requests)
    result, _ = run("--all")
    assert result["updated_count"] == 0 and result["failed_count"] == 0
    assert len(commons_settings.requests) == before  # candidate cache, scores by sha1
    assert Validation.objects.filter(resolved=False).count() == 2  # not duplicated


@pytest.mark.django_db(transaction=True)  # real commits: the old file goes on commit
def test_a_better_image_replaces_the_old_file_after_success(city, brightness, commons_settings):
    orsay = PointOfInterest.objects.get(name="Orsay")
    orsay.image_file.save("old.jpg", ContentFile(jpeg((500, 400), (5, 5, 5))), save=True)
    old_name = orsay.image_file.name
    storage = orsay.image_file.storage
    result, _ = run("--all", "--city", "paris")
    orsay.refresh_from_db()
    assert orsay.image_file.name != old_name and not storage.exists(old_name)
    assert stored("Orsay").getpixel((400, 300))[0] > 150


def test_failing_poi_does_not_stop_the_batch(city, brightness, commons_settings, settings):
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    r = commons_settings
    # Commons fails the Louvre's search only.
    original = r.api

    def flaky(params):
        if params.get("gsrsearch") == "Louvre":
            return 500, {}, {}
        return original(params)

    r.api = flaky
    result, out = run()
    assert result["failed_count"] == 1 and result["updated_count"] == 1
    assert PointOfInterest.objects.get(name="Orsay").image_file
    assert not PointOfInterest.objects.get(name="Louvre").image_file


def test_dry_run_changes_nothing(city, brightness, commons_settings):
    result, out = run("--dry-run")
    assert result["dry_run"] is True and result["updated_count"] == 2
    assert not SelectedImage.objects.exists() and not Validation.objects.exists()
    assert not any(p.image_file for p in PointOfInterest.objects.all())


def test_real_scorer_code_end_to_end(city, tiny_clip, commons_settings, settings):
    """Bytes from the replica through open_clip preprocessing, a CLIP encoder and a head."""
    settings.IMAGE_RANKING_SCORE_THRESHOLD = 0.0  # random weights: accept any score
    result, _ = run("--city", "paris", "--limit", "2")
    assert result["status"] == "success" and result["failed_count"] == 0
    scored = ImageCandidate.objects.exclude(score=None)
    assert scored.exists()
    assert {c.scorer_name for c in scored} == {"tiny-clip"}
    assert all(0.0 <= c.score <= 10.0 for c in scored)
    assert all(c.scorer_version == tiny_clip.version for c in scored)


@pytest.fixture
def aldmere(commons_settings):
    """Generic names with brighter namesakes elsewhere, a plan in the POI's category and
    a panorama that shows two POIs, served the way Commons and Wikidata describe them."""
    r = commons_settings
    city = City.objects.create(name="Aldmere", slug="aldmere")
    plist = PoiList.objects.create(city=city, name="Essentials")
    pois = {
        "Clock Tower": dict(wikidata_id="Q1", latitude=52.1, longitude=5.12),
        "Market Square": dict(wikidata_id="Q2", latitude=52.101, longitude=5.121),
        "Cathedral": dict(wikidata_id="Q3", latitude=52.1012, longitude=5.1212),
        "Old Bridge": dict(latitude=52.102, longitude=5.118),
    }
    for name, fields in pois.items():
        plist.pois.add(
            PointOfInterest.objects.create(city=city, name=name, category="see", **fields)
        )
    r.set_wikidata("Q1", "File:Aldmere clock tower.jpg", category="Clock Tower (Aldmere)")
    r.set_wikidata("Q2", None, category="Market Square (Aldmere)")
    r.set_wikidata("Q3", None, category="Cathedral (Aldmere)")
    own = ["Clock Tower (Aldmere)"]
    r.add_file("File:Aldmere clock tower.jpg", color=(150, 150, 150), categories=own)
    r.add_file("File:Clock Tower at dusk.jpg", color=(170, 170, 170), categories=own)
    plan = r.add_file("File:Clock Tower 1885.jpg", color=(250, 250, 250), categories=own)
    drawing = Image.new("RGB", (960, 720), "white")
    for x in range(40, 960, 90):
        drawing.paste((0, 0, 0), (x, 0, x + 3, 720))
    out = io.BytesIO()
    drawing.save(out, format="JPEG")
    plan.thumbs[960] = out.getvalue()
    r.add_file(
        "File:Clock Tower Boston.jpg", color=(240, 240, 240), categories=["Clock Tower (Boston)"]
    )
    both = ["Market Square (Aldmere)", "Cathedral (Aldmere)"]
    r.add_file(
        "File:Market square panorama.jpg", size=(3000, 1500), color=(230, 230, 230), categories=both
    )
    r.add_file("File:Market day.jpg", color=(160, 160, 160), categories=both[:1])
    r.add_file("File:Cathedral front.jpg", color=(165, 165, 165), categories=both[1:])
    r.add_file(
        "File:Old Bridge Mostar.jpg", color=(235, 235, 235), categories=["Old Bridge (Mostar)"]
    )
    r.add_file("File:Old Bridge.jpg", color=(225, 225, 225), gps=(43.34, 17.81))
    return city


def test_namesakes_plans_and_shared_photos(aldmere, brightness, commons_settings):
    result, _ = run("--city", "aldmere")
    assert result["updated_count"] == 3 and result["no_image_count"] == 1
    chosen = dict(SelectedImage.objects.values_list("poi__name", "title"))
    # The brighter namesake and the plan lose to the tower's own verified photos.
    assert chosen["Clock Tower"] == "File:Clock Tower at dusk.jpg"
    # One photo, one POI: the panorama goes to one, the other gets its own next best.
    square = {chosen["Market Square"], chosen["Cathedral"]}
    assert "File:Market square panorama.jpg" in square and len(square) == 2
    tower = {c.title: c for c in ImageCandidate.objects.filter(poi__name="Clock Tower")}
    assert "File:Clock Tower Boston.jpg" not in tower  # the category search skips it
    assert tower["File:Clock Tower 1885.jpg"].relevance == "not_a_photo"
    assert tower["File:Clock Tower 1885.jpg"].filtered_reason.startswith("not a photo (pixels)")
    assert "in Category:Clock Tower (Aldmere)" in tower["File:Clock Tower at dusk.jpg"].evidence
    bridge = {c.title: c for c in ImageCandidate.objects.filter(poi__name="Old Bridge")}
    assert bridge["File:Old Bridge Mostar.jpg"].relevance == "elsewhere"
    assert bridge["File:Old Bridge Mostar.jpg"].evidence[0] == (
        "elsewhere: Category:Old Bridge (Mostar)"
    )
    assert bridge["File:Old Bridge.jpg"].filtered_reason.startswith("elsewhere: ")
    # Nothing of the Old Bridge's own: no image, and the report says why.
    report = Validation.objects.get(poi__name="Old Bridge", resolved=False)
    assert "2 files found, all of places named Old Bridge elsewhere (Mostar)" in report.description
    assert not PointOfInterest.objects.get(name="Old Bridge").image_file
    # A re-run keeps every choice and costs nothing.
    before = len(commons_settings.requests)
    again, _ = run("--city", "aldmere", "--all")
    assert again["updated_count"] == 0 and len(commons_settings.requests) == before
    assert dict(SelectedImage.objects.values_list("poi__name", "title")) == chosen


def test_a_refused_thumbnail_host_stops_the_run_and_writes_nothing_off(
    city, brightness, commons_settings, settings
):
    # As with the default list before 2025's move of thumbnails to thumb.wikimedia.org.
    r = commons_settings
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1"]
    with pytest.raises(CommandError) as stopped:
        run("--missing-only")
    message = str(stopped.value)
    assert r.thumb_host in message and "IMAGE_RANKING_DOWNLOAD_HOSTS" in message
    assert message.count("Refusing") == 1  # one message, not one per candidate
    assert not ImageCandidate.objects.filter(drop=Drop.THUMBNAIL_REFUSED).exists()
    assert not SelectedImage.objects.exists()
    # Once the setting lists the host, the same candidates are scored and stored.
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1", r.thumb_host]
    result, _ = run("--missing-only")
    assert result["status"] == "success" and result["updated_count"] == 2


def test_candidates_written_off_for_a_host_are_tried_again_once_it_is_allowed(
    city, brightness, commons_settings
):
    # Earlier versions wrote a refused host onto the candidate, for good.
    run("--all")
    louvre = ImageCandidate.objects.get(title="File:Louvre pyramid.jpg")
    refused = (
        f"Refusing to download from {commons_settings.thumb_host}: "
        "it is not in IMAGE_RANKING_DOWNLOAD_HOSTS."
    )
    louvre.mark_dropped(Drop.HOST_REFUSED, {"error": refused})
    relevance = louvre.relevance
    louvre.save()
    run("--all")  # the candidate cache is fresh: no new search, the row is released
    louvre.refresh_from_db()
    assert louvre.filtered_reason == "" and louvre.relevance == relevance  # a candidate again


def test_no_dns_stops_the_run_at_once_as_an_outage(city, brightness, monkeypatch):
    import socket

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    result, _ = run("--missing-only")
    assert result["status"] == "outage"
    assert "cannot be reached" in result["message"] and "resolve" in result["message"]
    # One request, not four retries for each of four POIs.
    assert result["request_count"] == 1 and result["processed_count"] == 0


def test_the_thumbnails_real_size_is_read_from_its_bytes(city, brightness, commons_settings):
    # Commons echoes the asked width (960) for a narrower file served unscaled.
    r = commons_settings
    r.add_file("File:Orsay narrow.jpg", size=(700, 900), color=(230, 220, 210))
    r.set_search("Orsay", ["File:Orsay narrow.jpg", "File:Orsay clock.jpg"])
    run("--missing-only")
    narrow = ImageCandidate.objects.get(title="File:Orsay narrow.jpg")
    assert (narrow.thumbnail_width, narrow.thumbnail_height) == (700, 900)
