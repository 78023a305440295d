"""Queue mode: one POI at a time in work order, auto-advance, skip, undo after a reload."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cities.models import PointOfInterest
from image_ranking import validations
from image_ranking.models import ImageCandidate, ImageTrainingData, SelectedImage
from tests.image_ranking import test_views

# Old files are deleted on commit: run those callbacks as the real code would.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_immediately")]

# The review page's fixtures (a ranked city, a logged-in curator) are test_views'.
HTMX = test_views.HTMX
city, curator, staff = test_views.city, test_views.curator, test_views.staff

QUEUE = reverse("image_ranking:queue")
ACT = reverse("image_ranking:queue_act")
CHOOSE = reverse("image_ranking:queue_choose")
UNDO = reverse("image_ranking:queue_undo")


def ctx(response):
    # A TemplateResponse's context (partials do not fire the test client's signal).
    return response.context_data


def shown(response):
    card = ctx(response)["card"]
    return card.name if card else None


def test_work_order_puts_missing_images_then_low_scores_first(city, curator):
    SelectedImage.objects.filter(poi__name="Orsay").update(score=1.0)
    SelectedImage.objects.filter(poi__name="Louvre").update(score=2.0)
    validations.report_no_image(PointOfInterest.objects.get(name="No Image Yet"), "none usable")
    response = curator.get(QUEUE)
    assert shown(response) == "No Image Yet"
    assert (ctx(response)["done"], ctx(response)["total"]) == (0, 5)
    html = response.content.decode()
    assert 'id="queue-progress" max="5" value="0"' in html
    assert "Current image good" not in html  # nothing to label, only pick or skip


def test_good_advances_bad_stays_skip_moves_on_and_undo_goes_back(city, curator):
    SelectedImage.objects.filter(poi__name="Orsay").update(score=1.0)
    SelectedImage.objects.filter(poi__name="Louvre").update(score=2.0)
    query = {"filters": "city=paris"}
    first = curator.get(QUEUE, {"city": "paris"})
    assert shown(first) == "Orsay" and ctx(first)["total"] == 3
    orsay = PointOfInterest.objects.get(name="Orsay")

    after_good = curator.post(ACT, {**query, "poi": orsay.pk, "action": "good"}, **HTMX)
    assert "<html" not in after_good.content.decode()  # the queue partial only
    assert shown(after_good) == "Louvre" and ctx(after_good)["done"] == 1
    label = ImageTrainingData.objects.get()
    assert (label.poi_id, label.image_label) == (orsay.pk, "good")
    assert label.image_url == SelectedImage.objects.get(poi=orsay).source_url

    louvre = PointOfInterest.objects.get(name="Louvre")
    after_bad = curator.post(ACT, {**query, "poi": louvre.pk, "action": "bad"}, **HTMX)
    assert shown(after_bad) == "Louvre"  # stays: pick a better one or skip
    assert [t.title for t in ctx(after_bad)["card"].alternatives] == ["File:Louvre side.jpg"]

    after_skip = curator.post(ACT, {**query, "poi": louvre.pk, "action": "skip"}, **HTMX)
    assert shown(after_skip) == "Café Flore" and ctx(after_skip)["skipped_count"] == 1

    # Undo after a "reload" (a new request, nothing client-side): the newest label goes.
    after_undo = curator.post(UNDO, query, **HTMX)
    assert shown(after_undo) == "Louvre"
    assert list(ImageTrainingData.objects.values_list("image_label", flat=True)) == ["good"]


def test_choose_stores_the_candidate_and_advances(city, curator):
    SelectedImage.objects.filter(poi__name="Orsay").update(score=1.0)
    orsay = PointOfInterest.objects.get(name="Orsay")
    side = ImageCandidate.objects.get(title="File:Orsay side.jpg")
    response = curator.post(
        CHOOSE, {"poi": orsay.pk, "candidate": side.pk, "filters": "city=paris"}, **HTMX
    )
    assert response.status_code == 200 and shown(response) != "Orsay"
    assert SelectedImage.objects.get(poi=orsay).title == "File:Orsay side.jpg"


def test_queue_without_javascript_redirects_to_the_next_step(city, curator):
    orsay = PointOfInterest.objects.get(name="Orsay")
    response = curator.post(ACT, {"poi": orsay.pk, "action": "bad", "filters": "city=paris"})
    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE}?city=paris&at={orsay.pk}"
    assert shown(curator.get(response["Location"])) == "Orsay"


def test_bad_queue_posts_are_400(city, curator):
    assert curator.post(ACT, {"poi": "x", "action": "good"}).status_code == 400
    orsay = PointOfInterest.objects.get(name="Orsay")
    assert curator.post(ACT, {"poi": orsay.pk, "action": "delete"}).status_code == 400
    assert curator.post(UNDO, {}).status_code == 400  # no label to undo
    assert not ImageTrainingData.objects.exists()


def test_an_empty_queue_says_so(city, curator):
    response = curator.get(QUEUE, {"q": "no such place"})
    assert ctx(response)["card"] is None
    assert "Nothing left to review" in response.content.decode()
