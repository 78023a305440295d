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
