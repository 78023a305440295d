"""Queue mode in Chromium, keys only: label, auto-advance, undo after a reload, skip,
choose a candidate, progress over the whole selection; enlarge; a portrait shown whole."""

from __future__ import annotations

import pytest

from cities.models import PointOfInterest
from image_ranking.models import ImageCandidate, ImageTrainingData, SelectedImage
from tests.image_ranking import test_review_browser as browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser fixtures (Chromium via Playwright, a ranked city) are test_review_browser's.
browser_page, ranked_city = browser.browser_page, browser.ranked_city
login, screenshot = browser.login, browser.screenshot


def test_queue_keyboard_flow(browser_page, live_server, ranked_city):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/queue/?city=paris")
    page.wait_for_selector("body[data-review-ready]", state="attached")
    name = page.locator("#queue h2")
    count = page.locator("#queue-count")
    expect(name).to_have_text("Louvre")
    expect(count).to_have_text("0 of 2 labelled")
    expect(page.locator("#queue .tile-current")).to_be_focused()

    page.keyboard.press("g")  # current image good: on to the next POI
    expect(name).to_have_text("Orsay")
    expect(count).to_have_text("1 of 2 labelled")
    expect(page.locator("#queue-progress")).to_have_attribute("value", "1")
    louvre = PointOfInterest.objects.get(name="Louvre")
    assert ImageTrainingData.objects.get().poi_id == louvre.pk
    screenshot(page, "queue.png")

    page.reload()  # undo is kept on the server: it works after a reload
    expect(name).to_have_text("Orsay")
    page.keyboard.press("u")
    expect(name).to_have_text("Louvre")
    expect(count).to_have_text("0 of 2 labelled")
    assert not ImageTrainingData.objects.exists()

    page.keyboard.press("s")  # skip Louvre for this session
    expect(name).to_have_text("Orsay")
    page.keyboard.press("b")  # bad: stays, to pick a better one
    expect(page.locator("#queue .tile-current .marked-bad")).to_be_visible()
    expect(name).to_have_text("Orsay")
    expect(count).to_have_text("1 of 2 labelled")
    page.keyboard.press("1")  # use the first candidate, then on
    expect(page.locator("#queue")).to_contain_text("Nothing left to review")
    assert SelectedImage.objects.get(poi__name="Orsay").title == "File:Orsay side.jpg"

    page.get_by_role("link", name="start over").click()
    expect(name).to_have_text("Louvre")
    page.wait_for_selector("body[data-review-ready]", state="attached")  # keys work now
    page.keyboard.press("g")
    expect(page.locator("#queue")).to_contain_text("Nothing left to review")
    expect(count).to_have_text("2 of 2 labelled")
    assert page.evaluate("window.__csp") == []  # the queue keeps the site's CSP


@pytest.fixture
def portrait(ranked_city, commons_settings):
    """A tall candidate for Louvre (1500 x 2400 px), on the replica and in the cache."""
    r = commons_settings
    r.add_file("File:Louvre pyramid portrait.jpg", size=(1500, 2400), color=(90, 120, 160))
    r.set_search(
        "Louvre",
        ["File:Louvre front.jpg", "File:Louvre side.jpg", "File:Louvre pyramid portrait.jpg"],
    )
    from image_ranking.models import RankingState

    RankingState.objects.filter(poi__name="Louvre").update(candidates_fetched_at=None)
    return "File:Louvre pyramid portrait.jpg"


def test_enlarge_and_a_portrait_shown_whole(browser_page, live_server, portrait):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/")
    louvre = PointOfInterest.objects.get(name="Louvre")
    card = page.locator(f"#poi-{louvre.pk}")
    card.get_by_role("link", name="Fetch alternatives").click()
    tall = card.locator(".tile-candidate", has_text="Louvre pyramid portrait.jpg")
    tall.wait_for()
    img = tall.locator("img")
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    # The displayed size is asked of Commons (330/500 px), not the 960 px the run scored.
    src = img.evaluate("img => img.currentSrc")
    assert "/500px-" in src or "/330px-" in src, src
    # Shown whole: contained in its box, the whole height visible (not cropped to 4:3).
    fit = img.evaluate("img => getComputedStyle(img).objectFit")
    natural = img.evaluate("img => img.naturalHeight / img.naturalWidth")
    assert fit == "contain" and natural == pytest.approx(1.6, abs=0.01)
    box = img.bounding_box()
    assert box["width"] >= 300  # large enough to compare (was 188 px)
    current = card.locator(".tile-current img").bounding_box()
    assert abs(current["width"] - box["width"]) < 2  # as large as the current image
    screenshot(page, "portrait-uncropped.png")

    tall.focus()
    page.keyboard.press("z")
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    big = page.locator("#viewer-img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=big.element_handle())
    size = big.bounding_box()
    assert size["height"] > 700  # the viewport (900 px high) less the caption
    screenshot(page, "enlarged.png", full_page=False)
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    img.click()  # a click enlarges too
    expect(viewer).to_be_visible()
    candidate = ImageCandidate.objects.get(title=portrait)
    assert candidate.height == 2400
    assert page.evaluate("window.__csp") == []  # thumbnails, viewer: within the CSP


def test_key_hints_are_hidden_on_touch_screens(browser_page, live_server, ranked_city):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/")
    expect(page.locator(".page-header .keys")).to_be_visible()  # a desktop with a mouse
    phone = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    mobile = phone.new_page()
    login(mobile, live_server, "/image-ranking/")
    expect(mobile.locator(".page-header .keys")).to_be_hidden()
    screenshot(mobile, "review-page-touch.png", full_page=False)
    phone.close()
