"""The judge stage writes verdicts and evidence onto candidate rows."""

from __future__ import annotations

from image_ranking.commons.records import WikidataItem
from image_ranking.drops import Drop
from image_ranking.models import ImageCandidate
from image_ranking.pipeline.judge import apply, judge_rows
from image_ranking.pipeline.relevance import Judgement
from image_ranking.poi import PoiInfo

POI = PoiInfo(pk=1, name="Clock Tower", wikidata_id="Q1", city_name="Graz")
ITEM = WikidataItem("Q1", image="File:Uhrturm.jpg", commons_category="Clock Tower (Graz)")


def test_rows_get_verdict_evidence_and_drop_reason():
    rows = [
        ImageCandidate(title="File:Uhrturm.jpg"),
        ImageCandidate(title="File:B.jpg", categories=["Clock Tower (Boston)"]),
        ImageCandidate(title="File:C.jpg", categories=["Clock towers"]),
    ]
    judge_rows(rows, POI, ITEM)
    assert [r.relevance for r in rows] == ["verified", "elsewhere", "unknown"]
    assert rows[0].evidence == ["Wikidata image"] and rows[0].filtered_reason == ""
    assert rows[1].filtered_reason == "elsewhere: Category:Clock Tower (Boston)"
    assert rows[2].filtered_reason == ""


def test_a_metadata_filter_reason_wins_and_pixels_verdict_stands():
    small = ImageCandidate(
        title="File:B.jpg", drop=Drop.TOO_SMALL, drop_detail={"width": 300, "min_width": 640}
    )
    far = Judgement("elsewhere", ("elsewhere: 12 km away",), 0.0, Drop.ELSEWHERE_DISTANCE)
    apply(small, far)
    assert small.relevance == "elsewhere" and small.filtered_reason.startswith("too small")
    pixels = {"background": 0.8, "colours": 3}
    drawn = ImageCandidate(title="File:Uhrturm.jpg", drop=Drop.PIXELS_NOT_PHOTO, drop_detail=pixels)
    apply(drawn, Judgement("verified", ("Wikidata image",)))
    assert drawn.relevance == "not_a_photo" and drawn.evidence == [
        "not a photo (pixels): 80% blank background, 3 colours (a plan, map, logo or diagram)"
    ]
