"""The score stage: tiers scored in order, line art dropped before the scorer, thumbnail
failures retried a bounded number of runs, refused downloads permanent."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from image_ranking.exceptions import (
    CommonsError,
    DisallowedHostError,
    TransientCommonsError,
    TruncatedDownloadError,
)
from image_ranking.models import ImageCandidate
from image_ranking.pipeline.score import MAX_THUMBNAIL_FAILURES, ThumbnailScorer
from tests.image_ranking.ranking_helpers import BrightnessScorer, grey

pytestmark = pytest.mark.django_db  # scores are looked up by sha1


class Thumbs:
    """download_image from a dict of URL -> bytes or exception; records URLs."""

    def __init__(self, answers):
        self.answers = answers
        self.urls = []

    def download_image(self, url, max_bytes=None):
        self.urls.append(url)
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def row(title, relevance="unknown", **kw):
    return ImageCandidate(
        title=title,
        sha1=title,
        thumbnail_url=f"http://127.0.0.1/{title}",
        relevance=relevance,
        **kw,
    )


def stage(client, scorer=None):
    scorer = scorer or BrightnessScorer()
    return ThumbnailScorer(lambda: client, lambda: scorer, dry_run=True), scorer


def plan_bytes():
    image = Image.new("RGB", (960, 720), "white")
    draw = ImageDraw.Draw(image)
    for x in range(0, 960, 80):
        draw.line([(x, 0), (x, 720)], fill="black", width=3)
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def test_a_passing_verified_file_spares_the_unknown_ones():
    rows = [row("U", "unknown"), row("V", "verified")]
    client = Thumbs({"http://127.0.0.1/U": grey(250), "http://127.0.0.1/V": grey(200)})
    scoring, _ = stage(client)
    assert scoring.score(rows, threshold=5.0) == 1
    assert client.urls == ["http://127.0.0.1/V"] and rows[0].score is None
    # Without a threshold (the review page) every candidate in the top K is scored.
    assert scoring.score(rows) == 1 and rows[0].score is not None


def test_line_art_never_reaches_the_scorer():
    rows = [row("Plan", "verified"), row("Photo", "verified")]
    client = Thumbs({"http://127.0.0.1/Plan": plan_bytes(), "http://127.0.0.1/Photo": grey(150)})
    scoring, scorer = stage(client)
    scoring.score(rows)
    assert rows[0].relevance == "not_a_photo" and rows[0].score is None
    assert rows[0].filtered_reason.startswith("not a photo (pixels)")
    assert scorer.calls == [1]


def test_missing_thumbnail_is_retried_on_later_runs_up_to_the_bound():
    rows = [row("A")]
    client = Thumbs({"http://127.0.0.1/A": CommonsError("HTTP 404 for http://127.0.0.1/A")})
    for attempt in range(1, MAX_THUMBNAIL_FAILURES + 1):
        scoring, _ = stage(client)  # a new run
        scoring.score(rows)
        scoring.score(rows)  # the same run does not try twice
        assert rows[0].thumbnail_failures == attempt and len(client.urls) == attempt
    assert "given up until --refresh" in rows[0].filtered_reason
    stage(client)[0].score(rows)
    assert len(client.urls) == MAX_THUMBNAIL_FAILURES


def test_refused_download_is_permanent():
    rows = [row("A")]
    client = Thumbs({"http://127.0.0.1/A": DisallowedHostError("not allowed")})
    stage(client)[0].score(rows)
    assert rows[0].filtered_reason.startswith("thumbnail refused")
    stage(client)[0].score(rows)
    assert len(client.urls) == 1


def test_a_truncated_thumbnail_is_retried_later_an_outage_fails_the_poi():
    rows = [row("A")]
    client = Thumbs({"http://127.0.0.1/A": TruncatedDownloadError("10 of 90 bytes arrived")})
    stage(client)[0].score(rows)
    assert rows[0].filtered_reason.startswith("thumbnail retry 1/3: 10 of 90 bytes")
    client.answers["http://127.0.0.1/A"] = TransientCommonsError("HTTP 503")
    with pytest.raises(TransientCommonsError):  # fails the POI, ranked again later
        stage(client)[0].score(rows)
    assert rows[0].thumbnail_failures == 1
