"""The gather stage: client candidates become judged rows; scoring-time marks survive a
re-fetch of the same file, transient ones not a --refresh."""

from __future__ import annotations

import pytest

from image_ranking.commons.records import Candidate, Gathered, WikidataItem
from image_ranking.drops import Drop
from image_ranking.models import ImageCandidate, RankingState
from image_ranking.pipeline.gather import CandidateCache, update_candidate
from tests.factories import make_city, make_poi

pytestmark = pytest.mark.django_db


def candidate(title, **kw):
    return Candidate(
        title=title,
        image_url=f"http://127.0.0.1/orig/{title}",
        thumbnail_url=f"http://127.0.0.1/thumb/{title}",
        thumbnail_width=960,
        thumbnail_height=720,
        width=2000,
        height=1500,
        mime="image/jpeg",
        sha1=kw.pop("sha1", title),
        page_url="",
        **kw,
    )


class Client:
    """gather_one/gather as the real client answers them; counts calls."""

    def __init__(self, gathered: Gathered) -> None:
        self.gathered = gathered
        self.calls = 0

    def gather_one(self, poi, limit=10):
        self.calls += 1
        return self.gathered

    def gather(self, pois, limit=10):
        self.calls += 1
        return {p.pk: self.gathered for p in pois}


@pytest.fixture
def poi():
    return make_poi(make_city("Graz"), "Clock Tower", wikidata_id="Q1")


def test_fetched_candidates_are_saved_with_metadata_and_judged_against_the_item(poi):
    item = WikidataItem("Q1", commons_category="Clock Tower (Graz)")
    files = [
        candidate(
            "File:A.jpg",
            categories=("Clock Tower (Graz)",),
            assessments=("quality",),
            found_by=("category",),
        ),
        candidate("File:B.jpg", latitude=42.36, longitude=-71.06, description="Clock Tower"),
    ]
    client = Client(Gathered(item, files))
    cache = CandidateCache(lambda: client, dry_run=False, refresh=False)
    rows = cache.candidates(poi)
    saved = {c.title: c for c in ImageCandidate.objects.filter(poi=poi)}
    assert saved["File:A.jpg"].relevance == "verified" and saved["File:A.jpg"].assessments == [
        "quality"
    ]
    assert saved["File:A.jpg"].found_by == ["category"]
    assert saved["File:B.jpg"].relevance == "unknown"  # no POI coordinates, no item P625
    assert saved["File:B.jpg"].latitude == pytest.approx(42.36)
    assert RankingState.objects.get(poi=poi).candidates_fetched_at is not None
    # Fresh cache: no second request, the rows come back as saved.
    assert [r.title for r in cache.candidates(poi)] == [r.title for r in rows] and client.calls == 1


def test_batched_prefetch_saves_every_poi_at_once(poi):
    client = Client(Gathered(None, [candidate("File:A.jpg")]))
    cache = CandidateCache(lambda: client, dry_run=False, refresh=False)
    cache.prefetch([poi])
    assert client.calls == 1 and ImageCandidate.objects.filter(poi=poi).count() == 1
    cache.candidates(poi)
    assert client.calls == 1


def test_marks_from_scoring_survive_a_refetch_of_the_same_file(poi):
    row = ImageCandidate(
        poi=poi,
        title="File:A.jpg",
        sha1="File:A.jpg",
        thumbnail_url="http://127.0.0.1/thumb/File:A.jpg",
    )
    row.pk = 1  # as if saved
    row.mark_dropped(Drop.PIXELS_NOT_PHOTO, {"background": 0.8, "colours": 3})
    update_candidate(row, candidate("File:A.jpg"), clear_retries=True)
    assert row.filtered_reason.startswith("not a photo (pixels)")
    row.mark_dropped(Drop.THUMBNAIL_RETRY, {"error": "HTTP 404"})
    row.thumbnail_failures = 2
    update_candidate(row, candidate("File:A.jpg"))
    assert row.filtered_reason.startswith("thumbnail retry") and row.thumbnail_failures == 2
    update_candidate(row, candidate("File:A.jpg"), clear_retries=True)  # --refresh
    assert row.filtered_reason == "" and row.thumbnail_failures == 0
    # A re-uploaded file (new sha1) starts afresh, score included.
    row.mark_dropped(Drop.PIXELS_NOT_PHOTO, {"background": 0.8, "colours": 3})
    row.score = 7.0
    update_candidate(row, candidate("File:A.jpg", sha1="new"))
    assert row.filtered_reason == "" and row.score is None


def test_rows_cached_before_relevance_existed_are_fetched_again(poi):
    client = Client(Gathered(None, [candidate("File:A.jpg")]))
    cache = CandidateCache(lambda: client, dry_run=False, refresh=False)
    cache.candidates(poi)
    ImageCandidate.objects.filter(poi=poi).update(relevance="")  # as migrated from 0002
    again = CandidateCache(lambda: client, dry_run=False, refresh=False)
    assert not again.is_fresh(poi)
    assert again.candidates(poi)[0].relevance == "unknown" and client.calls == 2
