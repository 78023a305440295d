from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cities.models import City, PointOfInterest
from image_ranking.models import RankingLease, RankingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_and_leases():
    now = timezone.now()
    run = RankingRun.objects.create(
        started_at=now - timedelta(minutes=5),
        status=RankingRun.Status.RUNNING,
        counts={"updated": 3, "failed": 1, "requests": 12},
        heartbeat_at=now,
        owner="worker-1:4242",
    )
    city = City.objects.create(name="Paris", slug="paris")
    held, expired = (
        PointOfInterest.objects.create(city=city, name=name, category="see")
        for name in ("Louvre <b>Museum</b>", "Pantheon")
    )
    RankingLease.objects.create(poi=held, run=run, expires_at=now + timedelta(minutes=2))
    RankingLease.objects.create(poi=expired, run=run, expires_at=now - timedelta(minutes=2))
    return run


def test_operators_see_runs_with_their_outcomes(admin_client, run_and_leases):
    page = admin_client.get(reverse("admin:image_ranking_rankingrun_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "worker-1:4242" in html and "failed 1, requests 12, updated 3" in html
    detail = admin_client.get(
        reverse("admin:image_ranking_rankingrun_change", args=[run_and_leases.pk])
    )
    assert detail.status_code == 200 and "worker-1:4242" in detail.content.decode()


def test_leases_say_which_are_still_held(admin_client, run_and_leases):
    page = admin_client.get(reverse("admin:image_ranking_rankinglease_changelist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Louvre &lt;b&gt;Museum&lt;/b&gt;" in html and "<b>Museum</b>" not in html
    assert html.count('alt="True"') == 1 and html.count('alt="False"') == 1


def test_runs_and_leases_cannot_be_edited_by_hand(admin_client, run_and_leases):
    change = reverse("admin:image_ranking_rankingrun_change", args=[run_and_leases.pk])
    response = admin_client.post(change, {"status": "success", "owner": "me"})
    assert response.status_code == 403
    run_and_leases.refresh_from_db()
    assert run_and_leases.status == RankingRun.Status.RUNNING
    assert admin_client.get(reverse("admin:image_ranking_rankingrun_add")).status_code == 403
    lease = RankingLease.objects.first()
    delete = reverse("admin:image_ranking_rankinglease_delete", args=[lease.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert RankingLease.objects.count() == 2


def test_the_admin_searches_pois_by_the_name_field_the_host_maps(
    admin_client, run_and_leases, settings
):
    url = reverse("admin:image_ranking_rankinglease_changelist")
    html = admin_client.get(url, {"q": "Panth"}).content.decode()
    assert "Pantheon" in html and "Louvre" not in html
    # A host whose POI name lives in another field: the search follows IMAGE_RANKING_POI_FIELDS.
    PointOfInterest.objects.filter(name="Pantheon").update(category="temple")
    settings.IMAGE_RANKING_POI_FIELDS = {"name": "category"}
    html = admin_client.get(url, {"q": "temple"}).content.decode()
    assert "1 result (" in html and "Pantheon" in html
    assert "0 results (" in admin_client.get(url, {"q": "Panth"}).content.decode()


def _city_with_history(name: str, pois: int) -> None:
    """``pois`` POIs, each in a list of its own, with a candidate, a stored image's row,
    a ranking state, a label, a lease and an open report."""
    from cities.models import PoiList, Validation
    from image_ranking.models import (
        ImageCandidate,
        ImageTrainingData,
        RankingState,
        SelectedImage,
    )

    city = City.objects.create(name=name, slug=name.lower())
    run = RankingRun.objects.create(started_at=timezone.now())
    for n in range(pois):
        poi = PointOfInterest.objects.create(city=city, name=f"{name} {n}", category="see")
        PoiList.objects.create(city=city, name=f"List {n}").pois.add(poi)
        url = f"https://upload.wikimedia.org/{name}{n}.jpg"
        cand = ImageCandidate.objects.create(poi=poi, title=f"File:{name}{n}.jpg", image_url=url)
        SelectedImage.objects.create(poi=poi, candidate=cand, chosen_by="ranker", sha1=f"{n}")
        RankingState.objects.create(poi=poi, outcome="updated")
        ImageTrainingData.objects.create(poi=poi, image_url=url, image_label="good")
        RankingLease.objects.create(poi=poi, run=run, expires_at=timezone.now())
        Validation.objects.create(context="image_ranking", aggregate="no_images", poi=poi)


LISTS = [
    "admin:image_ranking_imagecandidate_changelist",
    "admin:image_ranking_selectedimage_changelist",
    "admin:image_ranking_rankingstate_changelist",
    "admin:image_ranking_imagetrainingdata_changelist",
    "admin:image_ranking_rankinglease_changelist",
    "admin:cities_validation_changelist",
    "admin:cities_poilist_changelist",
    "admin:cities_pointofinterest_changelist",
    "admin:cities_city_changelist",
]


@pytest.mark.parametrize("name", LISTS)
def test_admin_lists_take_as_many_queries_for_many_rows_as_for_few(
    admin_client, django_assert_max_num_queries, name
):
    """A row's POI names its city (and a list its city): without the relations in the
    list's query, every row costs a query (10,000 POIs: 100 per page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _city_with_history("Few", 2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(reverse(name)).status_code == 200
    _city_with_history("Many", 12)
    with django_assert_max_num_queries(len(few)):
        assert admin_client.get(reverse(name)).status_code == 200
