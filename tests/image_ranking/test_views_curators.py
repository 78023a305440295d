"""Nothing lost between curators or sessions: stale views refused, soft claims in the
queue, no-store pages, "mark all good" undone as one, the queue's one Good/Bad per image."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from image_ranking import ranking, validations
from image_ranking.exceptions import CommonsError
from image_ranking.models import (
    ImageCandidate,
    ImageTrainingData,
    RankingState,
    ReviewClaim,
    SelectedImage,
)
from tests.image_ranking import test_views

# Old files are deleted on commit: run those callbacks as the real code would.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_immediately")]

HTMX = test_views.HTMX
city, curator, staff = test_views.city, test_views.curator, test_views.staff
poi, candidate = test_views.poi, test_views.candidate
REVIEW, MARK, USE = test_views.REVIEW, test_views.MARK, test_views.USE
BULK_GOOD, UNDO = test_views.BULK_GOOD, test_views.UNDO
QUEUE = reverse("image_ranking:queue")
ACT = reverse("image_ranking:queue_act")
CHOOSE = reverse("image_ranking:queue_choose")


@pytest.fixture
def bea():
    user = get_user_model().objects.create_user("bea", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def version_of(client, name):
    """The version token the grid gives ``name``'s forms, as a curator's page holds it."""
    cards = client.get(REVIEW).context["cards"]
    return next(c.version for c in cards if c.name == name)


def test_a_choice_on_a_stale_view_is_refused_with_who_and_what(city, curator, bea):
    louvre, side, front = poi("Louvre"), candidate("Louvre", "side"), candidate("Louvre", "front")
    seen_by_a = version_of(curator, "Louvre")
    seen_by_b = version_of(bea, "Louvre")
    assert seen_by_a == seen_by_b
    first = bea.post(USE, {"poi": louvre.pk, "candidate": side.pk, "version": seen_by_b}, **HTMX)
    assert first.status_code == 200 and "Not saved" not in first.content.decode()
    assert SelectedImage.objects.get(poi=louvre).chosen_by_user.username == "bea"

    # A, still looking at the old page, picks the front view back: refused, nothing changes.
    second = curator.post(
        USE, {"poi": louvre.pk, "candidate": front.pk, "version": seen_by_a}, **HTMX
    )
    html = second.content.decode()
    assert "Not saved: bea changed this POI&#x27;s image at" in html
    assert "it is now Louvre side.jpg" in html
    assert SelectedImage.objects.get(poi=louvre).title == "File:Louvre side.jpg"
    # Offered again on the fresh card, with the fresh token: a second click goes through.
    card = second.context_data["card"]
    assert card.offer.label == "Use Louvre front.jpg"
    fields = dict(card.offer.fields)
    assert fields["version"] == card.version != seen_by_a
    assert curator.post(USE, fields, **HTMX).status_code == 200
    assert SelectedImage.objects.get(poi=louvre).title == "File:Louvre front.jpg"


def test_a_label_on_a_stale_view_is_refused_and_offered_again(city, curator, bea):
    louvre, side = poi("Louvre"), candidate("Louvre", "side")
    seen = version_of(curator, "Louvre")
    current_url = SelectedImage.objects.get(poi=louvre).source_url
    bea.post(USE, {"poi": louvre.pk, "candidate": side.pk, "version": seen}, **HTMX)
    data = {"poi": louvre.pk, "image_url": current_url, "label": "good", "version": seen}
    response = curator.post(MARK, data, **HTMX)
    assert response["HX-Retarget"] == f"#poi-{louvre.pk}"  # the whole card, as it is now
    assert "bea changed this POI" in response.content.decode()
    assert not ImageTrainingData.objects.exists()
    offer = response.context_data["card"].offer
    assert offer.label.startswith("Mark ") and offer.label.endswith(" good again")
    # Without JavaScript: a message, back to the page, nothing saved.
    plain = curator.post(MARK, {**data, "next": REVIEW})
    assert plain.status_code == 302 and not ImageTrainingData.objects.exists()
    # A label with the fresh token is saved.
    assert curator.post(MARK, dict(offer.fields), **HTMX).status_code == 200
    assert ImageTrainingData.objects.get().image_label == "good"


def test_a_ranking_run_keeping_the_same_file_does_not_make_a_page_stale(city, curator):
    louvre = poi("Louvre")
    seen = version_of(curator, "Louvre")
    selected = SelectedImage.objects.get(poi=louvre)
    # A later run re-decides with a new score and keeps the file: the row is saved again.
    selected.score, selected.scorer_version = 7.5, "v2"
    selected.save()
    current_url = selected.source_url
    data = {"poi": louvre.pk, "image_url": current_url, "label": "good", "version": seen}
    response = curator.post(MARK, data, **HTMX)
    assert "Not saved" not in response.content.decode()
    assert ImageTrainingData.objects.get().image_label == "good"
    # Another file is another image: the same page is stale now.
    selected.sha1 = "f" * 40
    selected.save()
    assert version_of(curator, "Louvre") != seen


def test_a_queue_label_on_a_stale_view_is_refused(city, curator, bea):
    louvre, side = poi("Louvre"), candidate("Louvre", "side")
    seen = version_of(curator, "Louvre")
    bea.post(CHOOSE, {"poi": louvre.pk, "candidate": side.pk, "version": seen}, **HTMX)
    response = curator.post(ACT, {"poi": louvre.pk, "action": "good", "version": seen}, **HTMX)
    assert response.context_data["card"].name == "Louvre"  # stays on the POI, refreshed
    assert "bea changed this POI" in response.content.decode()
    assert not ImageTrainingData.objects.exists()


def test_review_pages_are_not_stored_by_the_browser(city, curator):
    for response in (
        curator.get(REVIEW),
        curator.get(QUEUE),
        curator.get(reverse("image_ranking:fetch_alternatives", args=[poi("Louvre").pk]), **HTMX),
        Client().get(REVIEW),  # the redirect to sign in too
    ):
        assert "no-store" in response["Cache-Control"]


def test_mark_all_good_skips_changed_pois_and_one_undo_takes_all_back(city, curator, bea):
    louvre, side = poi("Louvre"), candidate("Louvre", "side")
    cards = curator.get(REVIEW).context["cards"]
    shown = [(c.poi.pk, c.version) for c in cards if c.current]
    bea.post(USE, {"poi": louvre.pk, "candidate": side.pk}, **HTMX)
    data = {"poi": [pk for pk, _ in shown], "version": [v for _, v in shown]}
    response = curator.post(BULK_GOOD, data, **HTMX)
    assert response["HX-Refresh"] == "true"
    assert ImageTrainingData.objects.count() == len(shown) - 1
    assert not ImageTrainingData.objects.filter(poi=louvre).exists()
    page = curator.get(REVIEW).content.decode()
    assert "Not marked, their image changed since the page loaded: Louvre." in page
    assert curator.post(UNDO, {}, **HTMX)["HX-Refresh"] == "true"
    assert not ImageTrainingData.objects.exists()  # all of them, in one undo


def test_needs_an_image_count_follows_the_city_filter(city, curator):
    validations.report_no_image(poi("No Image Yet"), "none usable")
    validations.report_no_image(poi("Fourvière"), "none usable")
    assert curator.get(REVIEW).context["needs_image_count"] == 2
    assert curator.get(REVIEW, {"city": "lyon"}).context["needs_image_count"] == 1


def test_a_failed_use_offers_a_retry_naming_the_image(city, curator, monkeypatch):
    def down(poi, candidate, **kwargs):
        raise CommonsError("HTTP 503")

    monkeypatch.setattr(ranking, "choose_candidate", down)
    louvre, side = poi("Louvre"), candidate("Louvre", "side")
    response = curator.post(USE, {"poi": louvre.pk, "candidate": side.pk}, **HTMX)
    html = response.content.decode()
    assert "Louvre side.jpg was not used: Commons did not answer" in html
    assert "Retry: use Louvre side.jpg" in html


# ------------------------------------------------------------------------------ queue


def test_one_good_bad_per_image_and_the_queue_moves_on_when_settled(city, curator):
    SelectedImage.objects.filter(poi__name="Orsay").update(score=1.0)
    SelectedImage.objects.filter(poi__name="Louvre").update(score=2.0)
    query = {"filters": "city=paris"}
    orsay = poi("Orsay")
    first = curator.get(QUEUE, {"city": "paris"})
    html = first.content.decode()
    assert "Current image good" not in html  # no second set of buttons above the images
    side = first.context_data["card"].alternatives[0]
    assert side.number == 1 and "<kbd>1</kbd>" in html
    version = first.context_data["card"].version

    # A candidate labelled good: counted, but the POI is not settled (use it or not?).
    data = {**query, "poi": orsay.pk, "version": version}
    step = curator.post(ACT, {**data, "action": "good", "image_url": side.url}, **HTMX)
    assert step.context_data["card"].name == "Orsay" and step.context_data["done"] == 1
    # The current image bad, and no candidate left to decide on... the side one is good:
    step = curator.post(ACT, {**data, "action": "bad"}, **HTMX)
    assert step.context_data["card"].name == "Orsay"
    # ...changed to bad: every image is labelled, none good: settled, on to the next.
    step = curator.post(ACT, {**data, "action": "bad", "image_url": side.url}, **HTMX)
    assert step.context_data["card"].name == "Louvre" and step.context_data["done"] == 1
    assert 'id="queue-count">1 of 3 labelled' in step.content.decode()


def test_two_curators_are_not_handed_the_same_poi(city, curator, bea):
    a = curator.get(QUEUE, {"city": "paris"}).context_data["card"]
    b = bea.get(QUEUE, {"city": "paris"}).context_data["card"]
    assert a.name != b.name
    assert ReviewClaim.objects.get(poi=a.poi).curator.username == "curator"
    # Opened on purpose (a link, Back): shown, with who has it open.
    response = bea.get(QUEUE, {"city": "paris", "at": a.poi.pk})
    assert "curator is reviewing this POI." in response.content.decode()
    assert ReviewClaim.objects.get(poi=a.poi).curator.username == "curator"  # not taken
    # An expired claim frees the POI.
    ReviewClaim.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    again = bea.get(QUEUE, {"city": "paris", "at": a.poi.pk})
    assert "is reviewing this POI" not in again.content.decode()
    assert ReviewClaim.objects.get(poi=a.poi).curator.username == "bea"


def test_the_queue_fetches_alternatives_in_place(city, curator):
    orsay = poi("Orsay")
    ImageCandidate.objects.filter(poi=orsay).delete()  # nothing cached: offer to fetch
    RankingState.objects.filter(poi=orsay).update(candidates_fetched_at=None)
    first = curator.get(QUEUE, {"city": "paris", "at": orsay.pk})
    assert first.context_data["card"].alternatives is None
    assert "Fetch alternatives from Commons" in first.content.decode()
    fetched = curator.get(QUEUE, {"city": "paris", "at": orsay.pk, "fetch": "1"}, **HTMX)
    assert "<html" not in fetched.content.decode()  # the queue's body only
    assert [t.title for t in fetched.context_data["card"].alternatives] == ["File:Orsay side.jpg"]
