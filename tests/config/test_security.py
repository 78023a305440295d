"""The secret-key rule and the Content-Security-Policy, down to a real browser."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from cities.models import City, PoiList, PointOfInterest
from config.security import (
    DEVELOPMENT_SECRET_KEY,
    HTMX_INDICATOR_STYLE_HASH,
    content_security_policy,
    secret_key,
)
from image_ranking import scoring
from tests.image_ranking.ranking_helpers import BrightnessScorer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_secret_key_rule():
    assert secret_key("s3cret", debug=False) == "s3cret"
    assert secret_key("", debug=True) == DEVELOPMENT_SECRET_KEY
    for value in ("", DEVELOPMENT_SECRET_KEY):
        with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
            secret_key(value, debug=False)


def test_policy_allows_only_this_site_and_the_image_hosts():
    directives = content_security_policy(
        ["upload.wikimedia.org"], media_url="https://cdn.example/media/", static_url="/static/"
    )["DIRECTIVES"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'", HTMX_INDICATOR_STYLE_HASH]
    assert directives["img-src"] == [
        "'self'",
        "data:",
        "https://upload.wikimedia.org",
        "https://cdn.example",
    ]
    assert directives["object-src"] == directives["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in v for values in directives.values() for v in values)


@pytest.mark.django_db
def test_every_response_carries_the_policy():
    response = Client().get("/admin/login/")
    header = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in header and "https://upload.wikimedia.org" in header


@pytest.fixture
def ranked_city(commons_settings, monkeypatch, settings):
    scorer = BrightnessScorer()
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: scorer)
    replica = commons_settings
    paris = City.objects.create(name="Paris", slug="paris")
    plist = PoiList.objects.create(city=paris, name="Essentials")
    plist.pois.add(PointOfInterest.objects.create(city=paris, name="Louvre", category="see"))
    replica.add_file("File:Louvre front.jpg", size=(2400, 1800), color=(220, 210, 200))
    replica.add_file("File:Louvre side.jpg", size=(2000, 1500), color=(120, 140, 170))
    replica.set_search("Louvre", ["File:Louvre front.jpg", "File:Louvre side.jpg"])
    call_command("rank_poi_images", stdout=io.StringIO(), stderr=io.StringIO())
    get_user_model().objects.create_superuser("curator", password="s3cret-pw")
    # The replica stands in for upload. and thumb.wikimedia.org (plain HTTP, a random port).
    settings.CONTENT_SECURITY_POLICY = content_security_policy(
        [], extra_img=[replica.base_url, replica.thumb_base_url]
    )
    return paris


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_review_page_with_htmx_breaks_no_rule_of_the_policy(live_server, ranked_city, monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the dev extra")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        # Every violation is recorded, blocked or not, before any page script runs.
        page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        page.goto(f"{live_server.url}/image-ranking/")
        page.fill("#id_username", "curator")
        page.fill("#id_password", "s3cret-pw")
        page.click("input[type=submit]")
        page.wait_for_url("**/image-ranking/")
        assert page.evaluate("typeof htmx") == "object"  # htmx itself loaded
        louvre = PointOfInterest.objects.get(name="Louvre")
        card = page.locator(f"#poi-{louvre.pk}")
        card.get_by_role("link", name="Fetch alternatives").click()  # an htmx swap
        tile = card.locator(".tile-candidate").first
        tile.wait_for()
        tile.get_by_role("button", name="Good").click()
        tile.locator(".marked-good").wait_for()
        loaded = tile.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
        violations = page.evaluate("window.__csp")
        # The admin's pages (where staff edit POIs) pass the policy too.
        for path in (
            "/admin/",
            "/admin/cities/pointofinterest/",
            f"/admin/cities/pointofinterest/{louvre.pk}/change/",
        ):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("load")
            assert "Django site admin" in page.title()
            violations += [f"{path}: {v}" for v in page.evaluate("window.__csp")]
        browser.close()
    assert violations == []
    assert loaded  # the candidate thumbnail came from the allowed image host
