"""Where a label teaches most: the pure measure, and the queue's default order."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cities.models import PointOfInterest
from image_ranking import validations
from image_ranking.learning.uncertainty import asks, informativeness
from image_ranking.models import HeadChange, ImageCandidate, LearnedHead, SelectedImage
from tests.image_ranking import test_views

HTMX = test_views.HTMX
city, curator, staff = test_views.city, test_views.curator, test_views.staff
QUEUE = reverse("image_ranking:queue")


@pytest.fixture(autouse=True)
def _commit_immediately(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        yield


def test_close_top_candidates_teach_more_than_a_clear_winner():
    close, why = informativeness([7.0, 6.9, 2.0], threshold=5.0)
    clear, _ = informativeness([9.0, 3.0, 2.0], threshold=5.0)
    assert close > clear
    assert why == "two candidates within 0.10"


def test_a_winner_near_the_threshold_teaches_more():
    near, why = informativeness([5.1], threshold=5.0)
    far, _ = informativeness([9.5], threshold=5.0)
    assert near > far and why == "the best scores 0.10 above the threshold"
    assert informativeness([], threshold=5.0) == (0.0, "")


def test_heads_that_disagree_teach_most():
    alone, _ = informativeness([8.0, 4.0], threshold=5.0)
    value, why = informativeness([8.0, 4.0], threshold=5.0, other=[3.0, 6.0])
    assert value > alone + 1 and why == "the prior and the adapted head pick different images"
    agree, _ = informativeness([8.0, 4.0], threshold=5.0, other=[7.0, 1.0])
    assert agree == alone


def set_scores(name, front, side):
    ImageCandidate.objects.filter(title=f"File:{name} front.jpg").update(score=front)
    ImageCandidate.objects.filter(title=f"File:{name} side.jpg").update(score=side)


@pytest.mark.django_db
def test_queue_asks_first_where_a_label_teaches_most_after_open_reports(city, curator):
    # Orsay has the lowest current score (the old order's first), but Louvre's two
    # candidates are within 0.05: a label there decides its image.
    SelectedImage.objects.filter(poi__name="Orsay").update(score=1.0)
    set_scores("Orsay", 9.0, 2.0)
    set_scores("Louvre", 8.0, 7.95)
    set_scores("Café Flore", 9.5, 1.0)
    response = curator.get(QUEUE, {"city": "paris"})
    assert shown(response) == "Louvre"
    html = response.content.decode()
    assert "Asked because two candidates within 0.05." in html
    # An open no-image report still comes first.
    validations.report_no_image(PointOfInterest.objects.get(name="No Image Yet"), "none usable")
    assert shown(curator.get(QUEUE, {"city": "paris"})) == "No Image Yet"


@pytest.mark.django_db
def test_a_pending_preview_marks_the_heads_disagreeing(city, tmp_path):
    set_scores("Orsay", 9.0, 2.0)
    orsay = PointOfInterest.objects.get(name="Orsay")
    before = asks([orsay.pk]).get(orsay.pk)
    head = LearnedHead.objects.create(
        version="learned-x", sha256="x", file_path=str(tmp_path), backbone="b",
        created_at="2026-12-01T00:00:00Z",
    )  # fmt: skip
    HeadChange.objects.create(head=head, poi=orsay)
    after = asks([orsay.pk])[orsay.pk]
    assert after.value > (before.value if before else 0)
    assert after.reason == "a newly trained head would pick another image"


def shown(response):
    card = response.context_data["card"]
    return card.name if card else None


@pytest.mark.django_db
def test_only_the_head_of_the_queue_is_annotated_in_few_parameters(city, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from image_ranking.learning import uncertainty

    set_scores("Louvre", 8.0, 7.95)  # the most informative
    set_scores("Orsay", 7.0, 6.5)
    monkeypatch.setattr(uncertainty, "MAX_ANNOTATED", 1)
    pois = PointOfInterest.objects.all()
    with CaptureQueriesContext(connection) as queries:
        asked = {p.name: p.ask for p in uncertainty.annotate(pois)}
    assert asked["Louvre"] > 0 and asked["Orsay"] == 0.0
    # One WHEN per value, its POIs in one IN list: not one WHEN per POI.
    assert queries.captured_queries[-1]["sql"].count("WHEN") == 1
