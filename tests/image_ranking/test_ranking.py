"""The ranking service with the real Commons client on the loopback replica and a
brightness scorer (``add_photo``: files whose thumbnails are exact grey levels).

The command's end-to-end runs are in test_rank_command.py and test_end_to_end.py.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from cities.models import City, PointOfInterest, Validation
from image_ranking.commons.client import CommonsClient
from image_ranking.exceptions import ModelWeightsMissingError
from image_ranking.models import ImageCandidate, RankingState, SelectedImage
from image_ranking.ranking import Ranker, choose_candidate, get_candidates
from tests import factories
from tests.image_ranking.ranking_helpers import (
    BrightnessScorer,
    add_photo,
    grey,
    jpeg,
    rank_poi_images,
    rank_pois,
)

# Old files are deleted on commit: run those callbacks as the real code would.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_immediately")]


def make_poi(city, name, **fields):
    """A POI on the city's list, as the ranking runs cover."""
    return factories.make_poi(city, name, listed=True, **fields)


@pytest.fixture
def poi(city):
    return make_poi(city, "Eiffel Tower")


@pytest.fixture
def replica(commons_settings):
    return commons_settings


@pytest.fixture
def commons(replica):
    """The real client on the replica; ``gathers`` counts its batch gathers."""
    client = CommonsClient(sleep=lambda seconds: None)
    gather, client.gathers = client.gather, []

    def counted(pois, *args, **kwargs):
        client.gathers.append(len(pois))
        return gather(pois, *args, **kwargs)

    client.gather = counted
    return client


def downloads(replica, name=""):
    """The paths of the image downloads so far (of file ``name`` only, if given)."""
    return [p for p in replica.download_requests if name in p]


@pytest.fixture
def scorer():
    return BrightnessScorer()


@pytest.fixture
def eiffel(commons, replica):
    """Four candidates: two usable (bright wins), a map and a PDF filtered on metadata
    (the client's own filter: the title's noun, the MIME type)."""
    add_photo(replica, "File:Eiffel bright.jpg", grey(230))
    add_photo(replica, "File:Eiffel dark.jpg", grey(90))
    add_photo(replica, "File:Eiffel map.png", grey(250), mime="image/png")
    add_photo(replica, "File:Eiffel plan.pdf", grey(250), mime="application/pdf")
    replica.set_search(
        "Eiffel Tower",
        [
            "File:Eiffel dark.jpg",
            "File:Eiffel map.png",
            "File:Eiffel bright.jpg",
            "File:Eiffel plan.pdf",
        ],
    )
    return commons


def stored_size(poi):
    poi.refresh_from_db()
    with poi.image_file.open("rb") as handle:
        return Image.open(io.BytesIO(handle.read())).size


def test_best_candidate_is_stored_from_the_scored_thumbnail(poi, eiffel, replica, scorer):
    result = rank_poi_images(poi, client=eiffel, scorer=scorer, threshold=5)
    assert result.outcome == "updated"
    assert result.chosen.title == "File:Eiffel bright.jpg"
    assert result.best_score == pytest.approx(230 / 25.5, abs=0.1)
    # 1 search + 2 thumbnails; the filtered ones and the original are never fetched.
    assert eiffel.request_count == 3 and result.requests == 3
    assert downloads(replica) and all("/thumb/" in url for url in downloads(replica))
    assert stored_size(poi) == (800, 600)
    selected = SelectedImage.objects.get(poi=poi)
    assert selected.chosen_by == "ranker" and selected.title == "File:Eiffel bright.jpg"
    # The replica's Artist is HTML: a link to "Jane &amp; Doe".
    assert selected.author == "Jane & Doe" and selected.license_name == "CC BY-SA 4.0"
    assert selected.scorer_name == "test-brightness" and selected.scorer_version == "1"
    state = RankingState.objects.get(poi=poi)
    assert state.outcome == "updated" and state.ranked_at and state.candidates_fetched_at


def test_candidates_are_persisted_with_filter_reasons(poi, eiffel, scorer):
    kept = get_candidates(poi, client=eiffel, scorer=scorer)
    assert [c.title for c in kept] == ["File:Eiffel bright.jpg", "File:Eiffel dark.jpg"]
    assert kept[0].score > kept[1].score
    reasons = {c.title: c.filtered_reason for c in ImageCandidate.objects.filter(poi=poi)}
    assert reasons["File:Eiffel map.png"].startswith("title marks a map")
    assert reasons["File:Eiffel plan.pdf"].startswith("not a raster")
    assert reasons["File:Eiffel bright.jpg"] == ""


def test_fresh_cache_costs_no_request_and_stale_cache_reuses_scores(poi, eiffel, scorer, settings):
    get_candidates(poi, client=eiffel, scorer=scorer)
    assert eiffel.request_count == 3
    get_candidates(poi, client=eiffel, scorer=scorer)
    assert eiffel.request_count == 3  # fresh: no search, scores current: no download
    # Stale cache: one search again; same files (sha1) keep their scores.
    RankingState.objects.filter(poi=poi).update(
        candidates_fetched_at=timezone.now() - timedelta(days=31)
    )
    get_candidates(poi, client=eiffel, scorer=scorer)
    assert eiffel.request_count == 4
    get_candidates(poi, client=eiffel, scorer=scorer, refresh=True)
    assert eiffel.request_count == 5
    assert scorer.scored == 2


def test_new_scorer_version_or_reuploaded_file_is_scored_again(poi, eiffel, replica, scorer):
    get_candidates(poi, client=eiffel, scorer=scorer)
    get_candidates(poi, client=eiffel, scorer=BrightnessScorer(version="2"))
    # Both scored again for the new version, from the thumbnail cache: no request.
    assert eiffel.request_count == 3
    add_photo(replica, "File:Eiffel dark.jpg", grey(240))  # re-uploaded: new sha1
    kept = get_candidates(poi, client=eiffel, scorer=BrightnessScorer(version="2"), refresh=True)
    assert kept[0].title == "File:Eiffel dark.jpg"
    assert eiffel.request_count == 5  # search + only the changed file


def test_without_the_thumbnail_cache_a_new_scorer_version_downloads_again(
    poi, eiffel, scorer, settings
):
    settings.IMAGE_RANKING_THUMBNAIL_CACHE = False
    get_candidates(poi, client=eiffel, scorer=scorer)
    get_candidates(poi, client=eiffel, scorer=BrightnessScorer(version="2"))
    assert eiffel.request_count == 5  # both thumbnails again for the new version


def test_unchanged_winner_is_not_downloaded_again(poi, eiffel, scorer):
    rank_poi_images(poi, client=eiffel, scorer=scorer)
    name = PointOfInterest.objects.get(pk=poi.pk).image_file.name
    before = eiffel.request_count
    result = rank_poi_images(poi, client=eiffel, scorer=scorer)
    assert result.outcome == "unchanged" and result.requests == 0
    assert eiffel.request_count == before
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == name


def test_image_shared_between_pois_goes_to_one_and_is_fetched_once(city, commons, replica, scorer):
    add_photo(replica, "File:Paris skyline.jpg", grey(240))
    add_photo(replica, "File:Louvre court.jpg", grey(60))
    replica.set_search("Eiffel Tower", ["File:Paris skyline.jpg"])
    replica.set_search("Louvre", ["File:Paris skyline.jpg", "File:Louvre court.jpg"])
    eiffel, louvre = make_poi(city, "Eiffel Tower"), make_poi(city, "Louvre")
    results = list(rank_pois([eiffel, louvre], client=commons, scorer=scorer, threshold=2))
    assert [r.outcome for r in results] == ["updated", "updated"]
    # One photo, one POI: the Louvre gets its next best.
    assert [r.chosen.title for r in results] == ["File:Paris skyline.jpg", "File:Louvre court.jpg"]
    assert len(downloads(replica, "Paris_skyline.jpg")) == 1
    assert commons.request_count == 2 + 2  # 2 searches + 2 distinct thumbnails
    assert scorer.scored == 2
    # Stable on a re-run: each keeps its own, nothing is fetched.
    again = list(rank_pois([louvre, eiffel], client=commons, scorer=scorer, threshold=2))
    assert [r.outcome for r in again] == ["unchanged", "unchanged"]
    assert SelectedImage.objects.get(poi=louvre).title == "File:Louvre court.jpg"
    # Another city may show the same file: its stored copy is reused, no download.
    lyon = City.objects.create(name="Lyon", slug="lyon")
    other = make_poi(lyon, "Tour Montparnasse")
    replica.set_search("Tour Montparnasse", ["File:Paris skyline.jpg"])
    result = rank_poi_images(other, client=commons, scorer=scorer)
    assert result.outcome == "updated" and result.requests == 1  # the search only
    assert stored_size(other) == (800, 600)


def test_no_candidates_opens_one_validation(poi, commons, scorer):
    for _ in range(2):
        result = rank_poi_images(poi, client=commons, scorer=scorer)
        assert result.outcome == "no_image"
    report = Validation.objects.get()
    assert (report.context, report.aggregate, report.resolved) == (
        "image_ranking",
        "no_images",
        False,
    )
    assert report.poi == poi and report.city == poi.city
    assert "Eiffel Tower (Paris)" in report.description
    assert "no candidate images" in report.description


def test_all_filtered_counts_reasons(poi, commons, replica, scorer, settings):
    settings.IMAGE_RANKING_MIN_IMAGE_WIDTH = 640
    replica.add_file("File:A.svg", mime="image/svg+xml")
    replica.add_file("File:B.pdf", mime="application/pdf")
    replica.add_file("File:C.jpg", size=(320, 240))
    replica.set_search("Eiffel Tower", ["File:A.svg", "File:B.pdf", "File:C.jpg"])
    result = rank_poi_images(poi, client=commons, scorer=scorer)
    assert result.outcome == "no_image" and downloads(replica) == []
    report = Validation.objects.get()
    assert "all 3 candidate images were filtered out" in report.description
    assert "2 not a raster photo, 1 too small" in report.description


def test_all_below_threshold_names_best_score_then_resolves(poi, commons, replica, scorer):
    add_photo(replica, "File:Dim.jpg", grey(51))  # scores 2.0
    replica.set_search("Eiffel Tower", ["File:Dim.jpg"])
    rank_poi_images(poi, client=commons, scorer=scorer, threshold=5)
    rank_poi_images(poi, client=commons, scorer=scorer, threshold=5)
    report = Validation.objects.get()
    assert "below the threshold 5.0" in report.description
    assert "File:Dim.jpg, scores 2.00" in report.description
    # A lower threshold finds an image: the report is resolved, not deleted.
    result = rank_poi_images(poi, client=commons, scorer=scorer, threshold=1.5)
    assert result.outcome == "updated"
    assert Validation.objects.get().resolved is True


def test_fallback_image_when_enabled(poi, commons, scorer, settings):
    default_storage.save("cities/images/fallbacks/see.jpg", ContentFile(jpeg((1200, 900))))
    result = rank_poi_images(poi, client=commons, scorer=scorer, fallback=True)
    assert result.outcome == "fallback"
    selected = SelectedImage.objects.get(poi=poi)
    assert selected.chosen_by == "fallback" and selected.author == selected.license_name == ""
    assert stored_size(poi) == (800, 600)
    assert Validation.objects.filter(resolved=False).count() == 1  # still no real photo
    name = PointOfInterest.objects.get(pk=poi.pk).image_file.name
    again = rank_poi_images(poi, client=commons, scorer=scorer, fallback=True)
    assert again.outcome == "fallback"
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == name  # not copied again
    assert default_storage.exists("cities/images/fallbacks/see.jpg")


def test_fallback_off_by_default_and_missing_file_is_explained(poi, commons, scorer, settings):
    default_storage.save("cities/images/fallbacks/see.jpg", ContentFile(jpeg((100, 100))))
    assert rank_poi_images(poi, client=commons, scorer=scorer).outcome == "no_image"
    settings.IMAGE_RANKING_FALLBACK_ENABLED = True
    poi.category = "eat"
    poi.save()
    result = rank_poi_images(poi, client=commons, scorer=scorer)
    assert result.outcome == "no_image"
    assert "No fallback image for category 'eat'" in result.message


def test_real_photo_replaces_fallback_and_keeps_fallback_file(poi, commons, replica, scorer):
    default_storage.save("cities/images/fallbacks/see.jpg", ContentFile(jpeg((100, 100))))
    rank_poi_images(poi, client=commons, scorer=scorer, fallback=True)
    add_photo(replica, "File:New.jpg", grey(200))
    replica.set_search("Eiffel Tower", ["File:New.jpg"])
    result = rank_poi_images(
        poi, client=commons, scorer=scorer, fallback=True, threshold=5
    )  # cache is fresh: nothing new
    assert result.outcome == "fallback"
    get_candidates(poi, client=commons, scorer=scorer, refresh=True)
    result = rank_poi_images(poi, client=commons, scorer=scorer, fallback=True)
    assert result.outcome == "updated"
    assert SelectedImage.objects.get(poi=poi).chosen_by == "ranker"
    assert Validation.objects.get().resolved is True
    assert default_storage.exists("cities/images/fallbacks/see.jpg")


def test_existing_real_image_is_kept_when_nothing_passes(poi, commons, scorer):
    poi.image_file.save("mine.jpg", ContentFile(jpeg((400, 300))), save=True)
    result = rank_poi_images(poi, client=commons, scorer=scorer)
    assert result.outcome == "unchanged"
    assert "kept the current one" in result.message
    assert not Validation.objects.exists()
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == poi.image_file.name


def test_dry_run_changes_nothing(poi, eiffel, scorer, settings):
    result = rank_poi_images(poi, client=eiffel, scorer=scorer, dry_run=True)
    assert result.outcome == "updated" and result.message.startswith("Would store")
    assert not ImageCandidate.objects.exists()
    assert not RankingState.objects.exists()
    assert not SelectedImage.objects.exists()
    assert not PointOfInterest.objects.get(pk=poi.pk).image_file


def test_commons_failure_is_a_failed_result_and_batch_goes_on(city, eiffel, replica, scorer):
    first = make_poi(city, "Broken")
    second = make_poi(city, "Eiffel Tower")
    replica.failing_searches.add("Broken")
    results = list(rank_pois([first, second], client=eiffel, scorer=scorer))
    assert [r.outcome for r in results] == ["failed", "updated"]
    assert "HTTP 500" in results[0].message
    assert RankingState.objects.get(poi=first).outcome == "failed"
    assert eiffel.gathers == [2]  # one batch gather; the failed POI alone, not again


def test_curator_choice_is_kept_and_choose_candidate_stores(poi, eiffel, scorer):
    kept = get_candidates(poi, client=eiffel, scorer=scorer)
    dark = next(c for c in kept if c.title == "File:Eiffel dark.jpg")
    before = eiffel.request_count
    selected = choose_candidate(poi, dark, client=eiffel)
    assert selected.chosen_by == "curator" and selected.title == "File:Eiffel dark.jpg"
    assert eiffel.request_count == before  # its thumbnail, from the thumbnail cache
    result = rank_poi_images(poi, client=eiffel, scorer=scorer)
    assert result.outcome == "unchanged" and "curator" in result.message
    assert SelectedImage.objects.get(poi=poi).title == "File:Eiffel dark.jpg"
    # Confirming the image already shown costs nothing.
    assert choose_candidate(poi, dark, client=eiffel).chosen_by == "curator"
    assert eiffel.request_count == before


def test_choose_candidate_of_another_poi_is_refused(city, poi, eiffel, scorer):
    kept = get_candidates(poi, client=eiffel, scorer=scorer)
    with pytest.raises(ValueError, match="another POI"):
        choose_candidate(make_poi(city, "Other"), kept[0], client=eiffel)


def test_missing_model_weights_stop_at_once(city, eiffel):
    pois = [make_poi(city, "Eiffel Tower"), make_poi(city, "Louvre")]
    with pytest.raises(ModelWeightsMissingError):
        list(rank_pois(pois, client=eiffel, scorer=BrightnessScorer(missing_weights=True)))


def test_top_k_limits_thumbnail_downloads(poi, commons, replica, scorer, settings):
    settings.IMAGE_RANKING_SCORE_TOP_K = 2
    for i in range(5):
        add_photo(replica, f"File:E{i}.jpg", grey(140 + 20 * i))
    replica.set_search("Eiffel Tower", [f"File:E{i}.jpg" for i in range(5)])
    result = rank_poi_images(poi, client=commons, scorer=scorer)
    assert len(downloads(replica)) == 2
    assert result.chosen.title == "File:E1.jpg"


def test_wikidata_image_is_batched_and_ranked_first_on_ties(city, commons, replica, scorer):
    add_photo(replica, "File:P18.jpg", grey(200))
    add_photo(replica, "File:Search.jpg", grey(200))
    replica.set_wikidata("Q243", "File:P18.jpg")
    replica.set_search("Eiffel Tower", ["File:Search.jpg"])
    pois = [make_poi(city, "Eiffel Tower", wikidata_id="Q243"), make_poi(city, "Louvre")]
    results = list(Ranker(client=commons, scorer=scorer).rank_many(pois, batch_size=50))
    assert results[0].chosen.title == "File:P18.jpg"
    assert commons.gathers == [2]
    # 1 batched Wikidata request + 2 searches + 1 imageinfo for the P18 file (the real
    # client asks for a P18 no search returned) + 1 thumbnail: the verified P18 passes,
    # so the Eiffel Tower's search result (no evidence either way) is not fetched.
    assert commons.request_count == 5 and len(replica.wikidata_requests) == 1
    assert [q["titles"] for q in replica.api_requests if "titles" in q] == ["File:P18.jpg"]
    assert [p.rsplit("/", 1)[-1] for p in downloads(replica)] == ["960px-P18.jpg"]


def test_broken_thumbnail_is_retried_on_later_runs_then_given_up(poi, commons, replica, scorer):
    add_photo(replica, "File:Good.jpg", grey(200))
    add_photo(replica, "File:Broken.jpg", grey(250))
    broken_file = replica.files["File:Broken.jpg"]
    broken_file.thumb_data = b"<html>Server busy</html>"  # HTML, once or more
    replica.set_search("Eiffel Tower", ["File:Broken.jpg", "File:Good.jpg"])
    result = rank_poi_images(poi, client=commons, scorer=scorer)
    assert result.chosen.title == "File:Good.jpg"
    broken = ImageCandidate.objects.get(title="File:Broken.jpg")
    # The real client tells an HTML page from an image before decoding it.
    assert broken.filtered_reason.startswith("thumbnail retry 1/3: an HTML page instead of")
    # Later runs try it again, a bounded number of times, then give up until --refresh.
    for attempt in (2, 3):
        get_candidates(poi, client=commons, scorer=scorer)
        broken.refresh_from_db()
        assert broken.filtered_reason.startswith(f"thumbnail retry {attempt}/3")
    assert "given up until --refresh" in broken.filtered_reason
    before = commons.request_count
    get_candidates(poi, client=commons, scorer=scorer)
    assert commons.request_count == before  # given up: not fetched
    # Commons serves it again; --refresh clears the mark and it is scored (and wins).
    broken_file.thumb_data = grey(250)
    kept = get_candidates(poi, client=commons, scorer=scorer, refresh=True)
    assert kept[0].title == "File:Broken.jpg" and kept[0].filtered_reason == ""
    assert ImageCandidate.objects.get(title="File:Broken.jpg").thumbnail_failures == 0


def test_winner_whose_thumbnail_fails_on_a_rerun_is_not_replaced_by_a_lower_one(
    poi, eiffel, replica, scorer, settings
):
    settings.IMAGE_RANKING_THUMBNAIL_CACHE = False  # else the rerun never downloads
    first = rank_poi_images(poi, client=eiffel, scorer=scorer, threshold=3)
    assert first.chosen.title == "File:Eiffel bright.jpg"
    name = PointOfInterest.objects.get(pk=poi.pk).image_file.name
    # A new scorer version must score both again; the winner's thumbnail fails once.
    replica.files["File:Eiffel bright.jpg"].thumb_data = b"<html>502 Bad Gateway</html>"
    new = BrightnessScorer(version="2")
    result = rank_poi_images(poi, client=eiffel, scorer=new, threshold=3)
    assert result.outcome == "unchanged" and "could not be re-evaluated" in result.message
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == name
    assert SelectedImage.objects.get(poi=poi).title == "File:Eiffel bright.jpg"
    # Next run it answers again: re-scored under version 2, and it stays.
    replica.files["File:Eiffel bright.jpg"].thumb_data = grey(230)
    again = rank_poi_images(poi, client=eiffel, scorer=new, threshold=3)
    assert again.outcome == "unchanged" and again.chosen.title == "File:Eiffel bright.jpg"
    assert SelectedImage.objects.get(poi=poi).scorer_version == "2"


def test_dry_run_gives_a_shared_photo_to_one_poi_too(city, commons, replica, scorer):
    add_photo(replica, "File:Square panorama.jpg", grey(240))
    add_photo(replica, "File:Cathedral front.jpg", grey(150))
    replica.set_search("Market Square", ["File:Square panorama.jpg"])
    replica.set_search("Cathedral", ["File:Square panorama.jpg", "File:Cathedral front.jpg"])
    pois = [make_poi(city, "Market Square"), make_poi(city, "Cathedral")]
    results = list(rank_pois(pois, client=commons, scorer=scorer, dry_run=True))
    assert [r.chosen.title for r in results] == [
        "File:Square panorama.jpg",
        "File:Cathedral front.jpg",
    ]
    assert not SelectedImage.objects.exists()


def test_current_image_found_to_show_a_namesake_is_kept_but_reported(poi, commons, replica, scorer):
    add_photo(replica, "File:Eiffel.jpg", grey(200))
    replica.set_search("Eiffel Tower", ["File:Eiffel.jpg"])
    rank_poi_images(poi, client=commons, scorer=scorer)
    assert not Validation.objects.exists()
    # Commons now says it is another Eiffel Tower, and nothing else is found.
    # The same file (same bytes, same sha1), newly categorised.
    add_photo(replica, "File:Eiffel.jpg", grey(200), categories=("Eiffel Tower (Las Vegas)",))
    assert replica.files["File:Eiffel.jpg"].sha1 == SelectedImage.objects.get(poi=poi).sha1
    result = rank_pois([poi], client=commons, scorer=scorer, refresh=True)
    assert next(result).outcome == "unchanged"
    report = Validation.objects.get(resolved=False)
    assert "seems not to show it" in report.description
    assert "elsewhere: Category:Eiffel Tower (Las Vegas)" in report.description
