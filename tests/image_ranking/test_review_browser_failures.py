"""The five broken cases of issue 12, in Chromium: each now ends in something a curator can act on.

1. a session that expired (logged out in another tab): Good sends the browser to log in and
   back, never the login page inside a tile;
2. a rotated CSRF token (DEBUG on and off): "your session changed" with a Reload button;
3. Commons unreachable during "Fetch alternatives": a sentence for people within seconds,
   a Retry that works once Commons is back;
4. Commons unreachable during "Use this image" without JavaScript: a message after the redirect;
5. DEBUG=false: stored images are served (SERVE_MEDIA) and shown.
"""

from __future__ import annotations

import importlib
import socket
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import testcases
from django.urls import clear_url_caches

import config.urls
from cities.models import PointOfInterest
from image_ranking.models import ImageCandidate, ImageTrainingData, RankingState, SelectedImage
from tests.image_ranking import test_review_browser as browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser fixtures (Chromium via Playwright, a ranked city) are test_review_browser's.
browser_page, ranked_city = browser.browser_page, browser.ranked_city
login, screenshot = browser.login, browser.screenshot


def closed_port_url(path: str) -> str:
    """A loopback URL nobody listens on: Commons "unreachable" (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def poi(name: str) -> PointOfInterest:
    return PointOfInterest.objects.get(name=name)


def test_an_expired_session_sends_the_curator_to_log_in_and_back(
    browser_page, live_server, ranked_city
):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/?city=paris")
    Session.objects.all().delete()  # logged out in another tab
    card = page.locator(f"#poi-{poi('Louvre').pk}")
    card.get_by_role("button", name="Good").first.click()
    page.wait_for_url("**/accounts/login/**")
    assert "next=/image-ranking/%3Fcity%3Dparis" in page.url
    assert not ImageTrainingData.objects.exists()
    page.fill("#id_username", "curator")
    page.fill("#id_password", "s3cret-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/image-ranking/?city=paris")
    expect(page.locator(".tile form#id_username, .tile input[name=password]")).to_have_count(0)
    expect(page.locator(f"#poi-{poi('Louvre').pk} .tile-current")).to_be_visible()


@pytest.mark.parametrize("debug", [True, False])
def test_a_rotated_csrf_token_says_reload(browser_page, live_server, ranked_city, settings, debug):
    settings.DEBUG = debug
    page, expect = browser_page
    login(page, live_server, "/image-ranking/")
    # Signed out and in again elsewhere: the cookie's token no longer matches the page's.
    page.context.add_cookies([{"name": "csrftoken", "value": "x" * 32, "url": live_server.url}])
    card = page.locator(f"#poi-{poi('Louvre').pk}")
    card.get_by_role("button", name="Good").first.click()
    alert = card.locator(".card-alert")
    expect(alert).to_contain_text("Your session changed")
    assert "CSRF verification failed" not in page.content()
    assert not ImageTrainingData.objects.exists()
    screenshot(page, f"failure-csrf-debug-{str(debug).lower()}.png")
    alert.get_by_role("button", name="Reload the page").click()
    page.wait_for_load_state()
    page.locator(f"#poi-{poi('Louvre').pk}").get_by_role("button", name="Good").first.click()
    expect(page.locator(f"#poi-{poi('Louvre').pk} .marked-good")).to_be_visible()
    assert ImageTrainingData.objects.count() == 1


def test_commons_unreachable_during_fetch_is_worded_for_people_with_a_retry(
    browser_page, live_server, ranked_city, settings, commons_settings
):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/")
    louvre = poi("Louvre")
    RankingState.objects.filter(poi=louvre).update(candidates_fetched_at=None)
    settings.IMAGE_RANKING_COMMONS_API_URL = closed_port_url("/w/api.php")
    card = page.locator(f"#poi-{louvre.pk}")
    started = time.monotonic()
    card.get_by_role("link", name="Fetch alternatives").click()
    expect(card).to_contain_text("Commons did not answer; nothing was changed.")
    assert time.monotonic() - started < 8  # not ~16 s of back-off
    assert "Max retries" not in card.inner_text() and "127.0.0.1" not in card.inner_text()
    screenshot(page, "failure-commons-fetch.png")
    settings.IMAGE_RANKING_COMMONS_API_URL = commons_settings.api_url  # Commons is back
    card.get_by_role("link", name="Retry").click()
    expect(card.locator(".tile-candidate")).to_have_count(1)
    assert "Louvre side.jpg" in card.locator(".tile-candidate").inner_text()


def test_commons_unreachable_during_use_without_javascript_shows_a_message(
    browser_page, live_server, ranked_city
):
    page, expect = browser_page
    context = page.context.browser.new_context(java_script_enabled=False)
    page = context.new_page()
    login(page, live_server, "/image-ranking/")
    louvre = poi("Louvre")
    old_file = louvre.image_file.name
    page.get_by_role("link", name="Fetch alternatives").first.click()
    side = ImageCandidate.objects.get(title="File:Louvre side.jpg")
    # The upload server does not answer (and nothing local has this file's bytes).
    dead = closed_port_url("/wikipedia/commons/thumb/a/ab/Louvre_side.jpg/960px-Louvre_side.jpg")
    ImageCandidate.objects.filter(pk=side.pk).update(thumbnail_url=dead)
    page.get_by_role("button", name="Use this image").first.click()
    page.wait_for_load_state()
    expect(page.locator(".messages")).to_contain_text(
        "Commons did not answer; nothing was changed."
    )
    screenshot(page, "failure-commons-use-nojs.png")
    louvre.refresh_from_db()
    assert louvre.image_file.name == old_file
    assert SelectedImage.objects.get(poi=louvre).title == "File:Louvre front.jpg"
    context.close()


def _reload_urls(settings, **values):
    for key, value in values.items():
        setattr(settings, key, value)
    clear_url_caches()
    importlib.reload(config.urls)


@pytest.fixture
def restore_urls():
    yield
    clear_url_caches()
    importlib.reload(config.urls)


def _current_image_loaded(page) -> bool:
    img = page.locator(".tile-current img").first
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete", arg=img.element_handle(), timeout=5000)
    return img.evaluate("img => img.naturalWidth > 0")


def test_stored_images_show_with_debug_off(
    browser_page, live_server, ranked_city, settings, restore_urls, monkeypatch
):
    page, expect = browser_page
    # Django's live test server serves MEDIA_ROOT by itself; production servers do not.
    monkeypatch.setattr(testcases._MediaFilesHandler, "_should_handle", lambda self, path: False)
    _reload_urls(settings, DEBUG=False, SERVE_MEDIA=False)
    login(page, live_server, "/image-ranking/")
    assert not _current_image_loaded(page)  # the old behaviour: 404 for every image
    _reload_urls(settings, DEBUG=False, SERVE_MEDIA=True)
    page.reload()
    assert _current_image_loaded(page)


def test_a_network_error_or_a_500_shows_a_message_in_the_card_and_retry_resends(
    browser_page, live_server, ranked_city
):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/")
    card = page.locator(f"#poi-{poi('Orsay').pk}")
    page.route("**/image-ranking/mark/", lambda route: route.abort())  # the network drops
    card.get_by_role("button", name="Bad").first.click()
    alert = card.locator(".card-alert")
    expect(alert).to_contain_text("Could not reach the server; nothing was changed.")
    page.unroute("**/image-ranking/mark/")
    page.route(
        "**/image-ranking/mark/",
        lambda route: route.fulfill(status=500, body="<h1>Server Error (500)</h1>"),
    )
    alert.get_by_role("button", name="Retry").click()
    expect(alert).to_contain_text("The server answered 500; nothing was changed.")
    assert not ImageTrainingData.objects.exists()
    page.unroute("**/image-ranking/mark/")
    alert.get_by_role("button", name="Retry").click()  # the same request: label "bad"
    expect(card.locator(".tile-current .marked-bad")).to_be_visible()
    assert ImageTrainingData.objects.get().image_label == "bad"
