"""The review page in a real browser: Debian's Chromium driven by Playwright.

Log in, fetch a POI's alternatives, press ``g`` on a candidate, see it marked in place
(no page load), check the database row; a screenshot is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from cities.models import City, PoiList, PointOfInterest
from config.security import content_security_policy
from image_ranking import scoring
from image_ranking.models import ImageCandidate, ImageTrainingData
from tests.conftest import REPO_ROOT
from tests.image_ranking.ranking_helpers import BrightnessScorer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture
def browser_page(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the dev extra")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test
    # itself are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        # Content-Security-Policy violations, recorded before any page script runs.
        page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        yield page, sync_api.expect
        browser.close()


@pytest.fixture
def ranked_city(commons_settings, monkeypatch, settings):
    scorer = BrightnessScorer()
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: scorer)
    r = commons_settings
    paris = City.objects.create(name="Paris", slug="paris")
    plist = PoiList.objects.create(city=paris, name="Essentials")
    for name in ("Louvre", "Orsay"):
        plist.pois.add(PointOfInterest.objects.create(city=paris, name=name, category="see"))
        r.add_file(f"File:{name} front.jpg", size=(2400, 1800), color=(220, 210, 200))
        r.add_file(f"File:{name} side.jpg", size=(2000, 1500), color=(120, 140, 170))
        r.set_search(name, [f"File:{name} front.jpg", f"File:{name} side.jpg"])
    call_command("rank_poi_images", stdout=io.StringIO(), stderr=io.StringIO())
    get_user_model().objects.create_user("curator", password="s3cret-pw", is_staff=True)
    # The replica stands in for upload. and thumb.wikimedia.org (plain HTTP): the
    # Content-Security-Policy lets the browser show its thumbnails.
    settings.CONTENT_SECURITY_POLICY = content_security_policy(
        [], extra_img=[r.base_url, r.thumb_base_url]
    )
    return paris


def login(page, live_server, path: str) -> None:
    """Open ``path`` as the curator, through the project's login page."""
    page.goto(f"{live_server.url}{path}")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "s3cret-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Keep a screenshot in test-artifacts/ (a CI artifact)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)
    assert (ARTIFACTS / name).stat().st_size > 5_000


def test_curator_labels_a_candidate_with_the_keyboard(
    browser_page, live_server, ranked_city, tmp_path
):
    page, expect = browser_page
    page.goto(f"{live_server.url}/image-ranking/")
    assert "/accounts/login/" in page.url  # staff only: sent to log in first
    page.fill("#id_username", "curator")
    page.fill("#id_password", "s3cret-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/image-ranking/")
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    louvre = PointOfInterest.objects.get(name="Louvre")
    card = page.locator(f"#poi-{louvre.pk}")
    card.get_by_role("link", name="Fetch alternatives").click()
    candidate_tile = card.locator(".tile-candidate").first
    candidate_tile.wait_for()
    assert "Louvre side.jpg" in candidate_tile.inner_text()
    # POIs on the page, not images: fetching alternatives does not change it.
    expect(page.locator("#counter-total")).to_have_text("2")

    # Arrow keys move the focus from the current image to the candidate beside it.
    card.locator(".tile-current").focus()
    page.keyboard.press("ArrowRight")
    assert candidate_tile.evaluate("el => el === document.activeElement")
    page.keyboard.press("g")
    candidate_tile.locator(".marked-good").wait_for()
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("#counter-labelled")).to_have_text("1")

    side = ImageCandidate.objects.get(title="File:Louvre side.jpg")
    row = ImageTrainingData.objects.get()
    assert (row.poi_id, row.image_url, row.image_label) == (louvre.pk, side.image_url, "good")
    assert row.aesthetic_score == pytest.approx(side.score)
    assert row.labelled_by.username == "curator"

    ARTIFACTS.mkdir(exist_ok=True)
    for name, width in (("review-page.png", 1280), ("review-page-phone.png", 390)):
        page.set_viewport_size({"width": width, "height": 900})
        shot = tmp_path / name
        page.screenshot(path=str(shot), full_page=True)
        shutil.copy(shot, ARTIFACTS / name)
        assert os.path.getsize(ARTIFACTS / name) > 10_000

    # u undoes the last label, in place.
    page.keyboard.press("u")
    candidate_tile.get_by_role("button", name="Good").wait_for()
    expect(page.locator("#counter-labelled")).to_have_text("0")
    assert not ImageTrainingData.objects.exists()

    # Bulk: the remaining cards are fetched one by one, with progress.
    page.get_by_role("link", name="Fetch alternatives for every POI on this page").click()
    expect(page.locator("#fetch-status")).to_have_text("Fetched alternatives for 1 POI.")
    expect(page.locator("#fetch-progress")).to_have_attribute("max", "1")
    expect(page.locator(".tile-candidate")).to_have_count(2)
    assert page.evaluate("window.__sameDocument") is True
