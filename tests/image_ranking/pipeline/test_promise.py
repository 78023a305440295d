"""Download fewer losers: thumbnails in order of promise, and none that cannot matter."""

from __future__ import annotations

import pytest

from image_ranking.models import ImageCandidate
from image_ranking.pipeline.promise import Ceiling, ceiling, promise_order
from tests.image_ranking.pipeline.test_score import Thumbs, row, stage
from tests.image_ranking.ranking_helpers import grey

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1/"


def test_promise_orders_by_what_the_answer_says():
    rows = [
        row("small", width=1000, height=750, search_rank=0),
        row("portrait", width=3000, height=4000, search_rank=1),
        row("landscape", width=4000, height=3000, search_rank=2),
        row("quality", width=4000, height=3000, assessments=["quality"], search_rank=3),
        row("in articles", width=4000, height=3000, article_uses=2, search_rank=6),
        row("p18", width=4000, height=3000, source=ImageCandidate.Source.WIKIDATA, search_rank=4),
        row("verified", "verified", width=1000, height=750, search_rank=5),
    ]
    order = [c.title for c in promise_order(rows)]
    assert order == ["verified", "p18", "quality", "in articles", "landscape", "portrait", "small"]


def test_the_ceiling_is_the_99th_percentile_of_kept_scores():
    assert ceiling([7.0] * 10) == Ceiling(10.0, 0)  # too few: the scale's top
    scores = [float(n) / 10 for n in range(100)]  # 0.0 .. 9.9
    assert ceiling(scores) == Ceiling(9.8, 100)


def _pass_and_lose(best_level):
    """Three unknown files, the first (most promising) scoring ``best_level / 25.5``."""
    rows = [
        row("first", width=4000, height=3000, search_rank=0),
        row("second", width=4000, height=3000, search_rank=1),
        row("third", width=4000, height=3000, search_rank=2),
    ]
    client = Thumbs(
        {URL + "first": grey(best_level), URL + "second": grey(240), URL + "third": grey(90)}
    )
    scoring, _ = stage(client)
    scoring._ceiling = Ceiling(9.0, 1000)  # as read from 1,000 kept scores
    scoring._calls = 1  # not due for a new reading
    return rows, client, scoring


def test_a_file_that_cannot_win_by_more_than_the_margin_is_not_downloaded(monkeypatch):
    # 8.6 >= 9.0 - MARGIN: the others can beat it by 0.4 at most.
    rows, client, scoring = _pass_and_lose(220)
    assert scoring.score(rows, threshold=5.0) == 1
    assert client.urls == [URL + "first"]
    assert rows[1].score is None and rows[2].score is None
    assert scoring.stopped.startswith("2 less promising files not downloaded: first scores 8.63")
    assert "9.00, the 99th percentile of 1000 scores kept" in scoring.stopped


def test_a_file_that_can_win_is_downloaded(monkeypatch):
    # 6.7 passes the threshold but the second could beat it by up to 2.3: downloaded, and
    # it wins (9.4); then nothing can beat that by more than the margin.
    rows, client, scoring = _pass_and_lose(170)
    assert scoring.score(rows, threshold=5.0) == 2
    assert client.urls == [URL + "first", URL + "second"]
    assert rows[1].score == pytest.approx(240 / 25.5, abs=0.1) and rows[2].score is None


def test_a_best_below_the_threshold_never_stops_the_downloads():
    rows, client, scoring = _pass_and_lose(100)  # 3.9: below the threshold
    scoring._ceiling = Ceiling(4.0, 1000)  # however near the ceiling it is
    assert scoring.score(rows, threshold=5.0) == 2  # the second passes (9.4): stop there
    assert client.urls == [URL + "first", URL + "second"]


def test_the_review_page_scores_every_alternative(monkeypatch):
    rows, client, scoring = _pass_and_lose(220)
    assert scoring.score(rows) == 3  # no threshold: no stopping


def test_the_ceiling_comes_from_the_kept_rows(monkeypatch):
    """Rows are data: the scorer's kept scores set the ceiling (one query)."""
    from cities.models import City, PointOfInterest

    city = City.objects.create(name="Paris", slug="paris")
    poi = PointOfInterest.objects.create(city=city, name="Louvre", category="see")
    ImageCandidate.objects.bulk_create(
        ImageCandidate(
            poi=poi,
            title=f"File:{n}.jpg",
            image_url=f"https://x.org/{n}.jpg",
            score=n / 10,
            scorer_name="test-brightness",
            scorer_version="1",
        )
        for n in range(60)
    )
    scoring, _ = stage(Thumbs({}))
    assert scoring.ceiling("test-brightness", "1") == Ceiling(5.9, 60)
    assert scoring.ceiling("test-brightness", "2") == Ceiling(10.0, 0)  # another version


def test_the_run_says_why_files_were_not_downloaded(settings, tmp_path, commons_settings):
    """The stop line reaches the POI's RankingState (the admin and -v 2 show it)."""
    from cities.models import City, PoiList, PointOfInterest
    from image_ranking.commons.clients import build_commons_client
    from image_ranking.models import RankingState
    from image_ranking.pipeline.ranker import Ranker
    from tests.image_ranking.ranking_helpers import BrightnessScorer, add_photo

    settings.MEDIA_ROOT = str(tmp_path)
    for n, level in enumerate((230, 240, 100)):
        add_photo(commons_settings, f"File:Arc {n}.jpg", grey(level))
    commons_settings.set_search("Arc", [f"File:Arc {n}.jpg" for n in range(3)])
    commons = build_commons_client()
    city = City.objects.create(name="Paris", slug="paris")
    poi = PointOfInterest.objects.create(city=city, name="Arc", category="see")
    PoiList.objects.create(city=city, name="Best").pois.add(poi)
    ranker = Ranker(client=commons, scorer=BrightnessScorer(), threshold=5.0)
    ranker.scoring._ceiling, ranker.scoring._calls = Ceiling(9.0, 1000), 1
    result = ranker.rank(poi)
    assert result.scored_count == 1 and result.outcome == "updated"
    message = RankingState.objects.get(poi=poi).message
    assert message.startswith("Stored File:Arc 0.jpg (9.02). (2 less promising files not")
