"""Heads as records: register, activate (the learned scorer follows, no restart), roll
back, provenance on stored images, and previews that list exactly what applying changes."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from cities.models import City, PoiList, PointOfInterest
from image_ranking import scoring
from image_ranking.commons.clients import build_commons_client
from image_ranking.learning import heads, preview
from image_ranking.models import HeadChange, ImageTrainingData, LearnedHead, SelectedImage
from image_ranking.ranking import Ranker
from tests.image_ranking.heads_helpers import colour_backbone, colour_head  # noqa: F401
from tests.image_ranking.ranking_helpers import BrightnessScorer, add_photo, jpeg

pytestmark = pytest.mark.django_db

RED, BLUE = (4.0, 0.0, -4.0), (-4.0, 0.0, 4.0)


@pytest.fixture(autouse=True)
def _commit_immediately(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        yield


@pytest.fixture(autouse=True)
def _learned(settings, colour_backbone):  # noqa: F811
    settings.IMAGE_RANKING_SCORER = "learned"
    settings.IMAGE_RANKING_LEARNED_HEAD = None
    scoring.clear_scorers()
    yield
    scoring.clear_scorers()


@pytest.fixture
def red(tmp_path):
    return heads.register(colour_head(tmp_path / "red.json", RED))


@pytest.fixture
def blue(tmp_path):
    return heads.register(colour_head(tmp_path / "blue.json", BLUE, leanings={"warm light": -0.5}))


@pytest.fixture
def city_pois(commons_settings):
    """Three POIs, each with a red and a blue photo (and one with a third, grey one), on
    the loopback replica; the real client."""
    replica = commons_settings
    city = City.objects.create(name="Paris", slug="paris")
    plist = PoiList.objects.create(city=city, name="Best of")
    pois = []
    for n, name in enumerate(["Louvre", "Orsay", "Opera"]):
        poi = PointOfInterest.objects.create(city=city, name=name, category="see")
        plist.pois.add(poi)
        add_photo(replica, f"File:{name} red.jpg", jpeg((960, 720), (210, 40 + n, 40)))
        add_photo(replica, f"File:{name} blue.jpg", jpeg((960, 720), (40, 40 + n, 210)))
        replica.set_search(name, [f"File:{name} red.jpg", f"File:{name} blue.jpg"])
        pois.append(poi)
    return build_commons_client(), pois


def rank_all(commons, pois):
    ranker = Ranker(client=commons)  # the scorer comes from get_scorer(): the active head
    return [ranker.rank(poi) for poi in pois]


def titles(pois):
    return [SelectedImage.objects.get(poi=p).title for p in pois]


def test_register_records_who_when_labels_figures_and_leanings(tmp_path, red):
    user = get_user_model().objects.create_user("ana", is_staff=True)
    again = heads.register(colour_head(tmp_path / "copy.json", RED), user=user)
    assert again.pk == red.pk  # the same file twice: the same record
    assert red.version.startswith("learned-") and red.backbone == "test-colour"
    assert red.label_count == 30 and red.pair_count == 4
    assert (red.cv, red.prior_cv, red.prior_name) == (0.8, 0.7, "quality-test")
    assert red.summary == "more warm light (+0.60)"
    assert red.state == LearnedHead.State.CANDIDATE and red.created_at.year == 2026
    (tmp_path / "red.json").unlink()  # the record keeps its own copy
    assert heads.activate(red).state == LearnedHead.State.ACTIVE


def test_activation_switches_the_learned_scorer_without_restart(red, blue, settings):
    heads.activate(red)
    assert scoring.get_scorer("learned").version == red.version
    heads.activate(blue)
    assert scoring.get_scorer("learned").version == blue.version
    blue.refresh_from_db()
    red.refresh_from_db()
    assert blue.previous == red and red.state == LearnedHead.State.RETIRED
    # The setting still overrides the active head.
    settings.IMAGE_RANKING_LEARNED_HEAD = red.file_path
    assert scoring.get_scorer("learned").version == red.version


def test_rollback_is_one_step_back(red, blue):
    heads.activate(red)
    heads.activate(blue)
    assert heads.rollback() == red
    assert heads.active() == red
    assert scoring.get_scorer("learned").version == red.version
    assert heads.rollback() is None  # red had no previous: no head active
    assert heads.active() is None
    with pytest.raises(heads.HeadError, match="nothing to roll back"):
        heads.rollback()


def test_a_head_below_its_prior_is_not_activated_unless_forced(tmp_path):
    weak = heads.register(colour_head(tmp_path / "weak.json", RED, cv=0.6, prior_cv=0.7))
    with pytest.raises(heads.HeadError, match="worse than its prior"):
        heads.activate(weak)
    assert heads.active() is None
    assert heads.activate(weak, force=True).state == LearnedHead.State.ACTIVE


def test_stored_images_record_the_scorer_and_head_that_chose_them(red, city_pois):
    commons, pois = city_pois
    heads.activate(red)
    results = rank_all(commons, pois)
    assert [r.outcome for r in results] == ["updated"] * 3
    for selected in SelectedImage.objects.filter(poi__in=pois):
        assert selected.title.endswith("red.jpg")
        assert (selected.scorer_name, selected.scorer_version) == ("learned", red.version)
        assert selected.head == red


def test_preview_lists_exactly_what_applying_changes_without_a_request(red, blue, city_pois):
    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois)
    # A curator's own choice is never overridden.
    SelectedImage.objects.filter(poi=pois[2]).update(chosen_by=SelectedImage.ChosenBy.CURATOR)
    before = commons.request_count
    planned = preview.plan(blue, pois)
    assert planned.poi_ids == {pois[0].pk, pois[1].pk} and planned.requests == 0
    change = planned.changes[0]
    assert change.old_title == "File:Louvre red.jpg" and change.new.title == "File:Louvre blue.jpg"
    assert change.new_score > 9 and change.old_new_score < 1 and change.old_score > 9
    old = {p.pk: SelectedImage.objects.get(poi=p).sha1 for p in pois}
    applied = preview.apply(blue, pois)
    new = {p.pk: SelectedImage.objects.get(poi=p).sha1 for p in pois}
    assert {pk for pk in old if old[pk] != new[pk]} == planned.poi_ids == applied.poi_ids
    assert commons.request_count == before  # thumbnails and embeddings from the caches
    assert titles(pois[:2]) == ["File:Louvre blue.jpg", "File:Orsay blue.jpg"]
    assert SelectedImage.objects.get(poi=pois[0]).head == blue
    assert preview.plan(blue, pois).changes == []  # applied: nothing left to change


def test_a_poi_whose_candidates_were_never_fetched_is_skipped(red, blue, city_pois):
    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois[:2])
    planned = preview.plan(blue, pois)
    assert planned.poi_ids == {pois[0].pk, pois[1].pk}
    assert planned.skipped == [(pois[2].pk, "candidates never fetched")]


def test_accept_applies_one_change_and_reject_is_a_label(red, blue, city_pois):
    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois)
    user = get_user_model().objects.create_user("ana", is_staff=True)
    rows = preview.record(preview.plan(blue, pois))
    assert len(rows) == 3 and all(r.decision == HeadChange.Decision.PENDING for r in rows)
    assert preview.accept(rows[0], user=user) == ""
    assert titles(pois[:1]) == ["File:Louvre blue.jpg"]
    preview.reject(rows[1], user=user)
    assert titles(pois[1:2]) == ["File:Orsay red.jpg"]  # kept
    label = ImageTrainingData.objects.get()
    # Commons' URLs carry utm_ query strings: the file is in the path.
    assert label.image_label == "bad"
    assert urlsplit(label.image_url).path.endswith("/Orsay_blue.jpg")
    assert label.labelled_by == user and label.poi_id == pois[1].pk
    # The POI's image changed since the preview: accepting it now would be a surprise.
    SelectedImage.objects.filter(poi=pois[2]).update(sha1="0" * 40)
    assert "changed since the preview" in preview.accept(rows[2], user=user)
    rows[2].refresh_from_db()
    assert rows[2].decision == HeadChange.Decision.STALE


def test_heads_command_lists_activates_previews_and_rolls_back(red, blue, city_pois, capsys):
    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois)
    call_command("heads", "list")
    listed = capsys.readouterr().out
    assert f"{red.pk}" in listed and "active" in listed and "more warm light" in listed
    call_command("heads", "preview", str(blue.pk), "--city", "paris")
    out = capsys.readouterr().out
    assert "3 of 3 POIs would change (0 requests; 0 skipped)" in out
    assert "Louvre: File:Louvre red.jpg (stored 9.3" in out and "-> File:Louvre blue.jpg" in out
    assert HeadChange.objects.filter(head=blue, decision="pending").count() == 3
    call_command("heads", "activate", str(blue.pk), "--apply", "--city", "paris")
    assert titles(pois) == ["File:Louvre blue.jpg", "File:Orsay blue.jpg", "File:Opera blue.jpg"]
    assert heads.active() == blue
    call_command("heads", "rollback")
    assert heads.active() == red


def test_heads_page_previews_accepts_rejects_activates_and_rolls_back(red, blue, city_pois):
    from django.test import Client
    from django.urls import reverse

    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois)
    user = get_user_model().objects.create_user("ana", password="pw", is_staff=True)
    client = Client()
    assert client.get(reverse("image_ranking:heads")).status_code == 302  # log in first
    client.force_login(user)
    page = client.get(reverse("image_ranking:heads")).content.decode()
    assert red.version in page and "more warm light" in page and "Roll back" in page
    response = client.post(reverse("image_ranking:head_preview", args=[blue.pk]))
    assert response.status_code == 302
    rows = list(HeadChange.objects.filter(head=blue).order_by("poi_id"))
    assert len(rows) == 3
    page = client.get(reverse("image_ranking:heads")).content.decode()
    assert "File:Louvre blue.jpg" in page and "would change 3 POIs" in page
    client.post(reverse("image_ranking:head_change_accept", args=[rows[0].pk]))
    client.post(reverse("image_ranking:head_change_reject", args=[rows[1].pk]))
    assert titles(pois[:2]) == ["File:Louvre blue.jpg", "File:Orsay red.jpg"]
    assert ImageTrainingData.objects.get().labelled_by == user
    client.post(reverse("image_ranking:head_activate", args=[blue.pk]))
    assert heads.active() == blue
    client.post(reverse("image_ranking:head_rollback"))
    assert heads.active() == red
    assert client.get(reverse("image_ranking:head_rollback")).status_code == 405


def test_heads_page_is_staff_only(red):
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(get_user_model().objects.create_user("bob", password="pw"))
    assert client.get(reverse("image_ranking:heads")).status_code == 403
    assert client.post(reverse("image_ranking:head_activate", args=[red.pk])).status_code == 403
    assert heads.active() is None


def test_old_cached_candidates_are_previewed_without_a_search(red, blue, city_pois):
    import datetime as dt

    from django.utils import timezone

    from image_ranking.models import RankingState

    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois)
    RankingState.objects.update(candidates_fetched_at=timezone.now() - dt.timedelta(days=90))
    before = commons.request_count
    assert len(preview.plan(blue, pois).changes) == 3
    assert commons.request_count == before


def test_training_reads_a_scored_candidates_thumbnail_from_the_cache(city_pois):
    from image_ranking.learning.trainer import make_fetcher
    from image_ranking.media.thumbnails import ThumbnailCache
    from image_ranking.models import ImageCandidate

    commons, pois = city_pois
    Ranker(client=commons, scorer=BrightnessScorer()).rank(pois[0])
    candidate = ImageCandidate.objects.filter(poi=pois[0]).first()
    cached = ThumbnailCache().get(candidate.sha1, candidate.thumbnail_url)
    assert cached is not None
    # Else the real client would try 127.0.0.1:1 (not an allowed host) and raise.
    assert make_fetcher()(candidate.thumbnail_url) == cached
