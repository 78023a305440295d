"""The queue as a curator's main tool, in Chromium: two curators on one POI, Back after a
label, the queue's one Good that advances and counts, the enlarged comparison and its
keys, a label kept across an expired session and a CSRF reload, the phone layout.

Screenshots go to ``test-artifacts/``; the share of the viewport the two compared images
take on a 1440 x 900 desktop is printed (``-s``) and asserted (at least half).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from cities.models import PointOfInterest
from image_ranking.models import ImageCandidate, ImageTrainingData, SelectedImage
from tests.image_ranking import test_review_browser as browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

browser_page, ranked_city = browser.browser_page, browser.ranked_city
login, screenshot = browser.login, browser.screenshot

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

# The area of the pictures themselves (object-fit: contain: the box less its bars), and
# only what lies inside the viewport, over the viewport's area.
SHARE_JS = """
([a, b]) => {
  const shown = (img) => {
    const r = img.getBoundingClientRect();
    const ratio = img.naturalWidth / img.naturalHeight;
    const w = Math.min(r.width, r.height * ratio), h = Math.min(r.height, r.width / ratio);
    const left = r.left + (r.width - w) / 2, top = r.top + (r.height - h) / 2;
    const vw = window.innerWidth, vh = window.innerHeight;
    const x = Math.max(0, Math.min(vw, left + w) - Math.max(0, left));
    const y = Math.max(0, Math.min(vh, top + h) - Math.max(0, top));
    return x * y;
  };
  return (shown(a) + shown(b)) / (window.innerWidth * window.innerHeight);
}
"""


def poi(name: str) -> PointOfInterest:
    return PointOfInterest.objects.get(name=name)


def login_as(page, live_server, username: str, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", "s3cret-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")
    page.wait_for_selector("body[data-review-ready]", state="attached")


def loaded(page, selector: str) -> None:
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].every(i => i.complete && i.naturalWidth)",
        arg=selector,
    )


def test_two_curators_on_one_poi_the_second_is_refused(browser_page, live_server, ranked_city):
    page_a, expect = browser_page
    get_user_model().objects.create_user("bea", password="s3cret-pw", is_staff=True)
    other = page_a.context.browser.new_context(viewport=DESKTOP)
    page_b = other.new_page()
    louvre = poi("Louvre")
    for page, name in ((page_a, "curator"), (page_b, "bea")):
        login_as(page, live_server, name, "/image-ranking/?city=paris")
        page.locator(f"#poi-{louvre.pk}").get_by_role("link", name="Fetch alternatives").click()
        page.locator(f"#poi-{louvre.pk} .tile-candidate").first.wait_for()

    # B uses the side view; A, whose page still shows the front view as current, marks
    # the current image good: refused, with who and what, and nothing is overwritten.
    page_b.locator(f"#poi-{louvre.pk} .tile-candidate").get_by_role("button", name="Use").click()
    expect(page_b.locator(f"#poi-{louvre.pk} .tile-current")).to_contain_text("Louvre side.jpg")
    card_a = page_a.locator(f"#poi-{louvre.pk}")
    card_a.locator(".tile-current").get_by_role("button", name="Good").click()
    alert = card_a.locator(".card-alert")
    expect(alert).to_contain_text("Not saved: bea changed this POI's image at")
    expect(alert).to_contain_text("it is now Louvre side.jpg")
    expect(card_a.locator(".tile-current")).to_contain_text("Louvre side.jpg")  # fresh view
    assert not ImageTrainingData.objects.exists()
    assert SelectedImage.objects.get(poi=louvre).chosen_by_user.username == "bea"
    screenshot(page_a, "curators-refused.png", full_page=False)

    # A's "use the front view" from the same stale page (B changed it): refused too.
    page_b.locator(f"#poi-{louvre.pk} .tile-candidate").get_by_role("button", name="Use").click()
    expect(page_b.locator(f"#poi-{louvre.pk} .tile-current")).to_contain_text("front.jpg")
    card_a.locator(".tile-candidate").get_by_role("button", name="Use").click()
    expect(alert).to_contain_text("bea changed this POI's image")
    assert SelectedImage.objects.get(poi=louvre).title == "File:Louvre front.jpg"

    # Offered again on the fresh view (front is now B's choice too): one click, saved as A's.
    offer = alert.locator("form[data-offer] button")
    expect(offer).to_have_text("Use Louvre front.jpg")
    offer.click()
    expect(alert).not_to_contain_text("Not saved")
    selected = SelectedImage.objects.get(poi=louvre)
    assert selected.title == "File:Louvre front.jpg"
    assert selected.chosen_by_user.username == "curator"
    other.close()


def test_back_after_a_label_shows_the_label(browser_page, live_server, ranked_city):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/?city=paris")
    card = page.locator(f"#poi-{poi('Louvre').pk}")
    card.locator(".tile-current").get_by_role("button", name="Good").click()
    expect(card.locator(".marked-good")).to_be_visible()
    expect(page.locator("#counter-labelled")).to_have_text("1")
    page.get_by_role("link", name="Queue").click()
    page.wait_for_url("**/queue/")
    page.go_back()
    page.wait_for_url("**/image-ranking/?city=paris")
    # no-store: the page is asked again, with the label, not restored as it was.
    expect(page.locator(f"#poi-{poi('Louvre').pk} .marked-good")).to_be_visible()
    expect(page.locator("#counter-labelled")).to_have_text("1")
    expect(page.locator("#counter-total")).to_have_text("2")  # POIs, not images


def test_queue_side_by_side_one_good_advances_and_counts(browser_page, live_server, ranked_city):
    page, expect = browser_page
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "/image-ranking/queue/?city=paris")
    page.wait_for_selector("body[data-review-ready]", state="attached")
    count = page.locator("#queue-count")
    expect(count).to_have_text("0 of 2 labelled")
    current = page.locator("#queue .duel .tile-current img")
    best = page.locator("#queue .duel .tile-candidate img")
    loaded(page, "#queue .duel img")
    a, b = current.bounding_box(), best.bounding_box()
    assert abs(a["width"] - b["width"]) < 1 and abs(a["height"] - b["height"]) < 1
    assert abs(a["y"] - b["y"]) < 1 and b["x"] > a["x"] + a["width"]  # side by side
    share = page.evaluate(SHARE_JS, [current.element_handle(), best.element_handle()])
    print(f"\nqueue, 1440x900: the two compared images take {share:.0%} of the viewport")
    assert share >= 0.5
    expect(page.locator("#queue .duel .tile-candidate .number")).to_have_text("1")
    screenshot(page, "queue-desktop.png", full_page=False)

    first = page.locator("#queue h2").inner_text()
    page.locator("#queue .tile-current").get_by_role("button", name="Good").click()
    expect(page.locator("#queue h2")).not_to_have_text(first)  # settled: on to the next
    expect(count).to_have_text("1 of 2 labelled")
    expect(page.locator("#queue-progress")).to_have_attribute("value", "1")
    assert page.evaluate("window.__csp") == []

    phone = page.context.browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    login(mobile, live_server, "/image-ranking/queue/?city=paris")
    loaded(mobile, "#queue .duel img")
    a = mobile.locator("#queue .duel .tile-current img").bounding_box()
    b = mobile.locator("#queue .duel .tile-candidate img").bounding_box()
    assert b["y"] >= a["y"] + a["height"]  # one above the other
    assert abs(a["width"] - b["width"]) < 1 and a["width"] >= 340  # the phone's width
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(mobile.locator(".queue-bar .keys")).to_be_hidden()  # no keyboard on a phone
    screenshot(mobile, "queue-phone.png", full_page=True)
    phone.close()


def test_enlarged_comparison_at_equal_size_takes_the_keys(browser_page, live_server, ranked_city):
    page, expect = browser_page
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "/image-ranking/queue/?city=paris")
    page.wait_for_selector("body[data-review-ready]", state="attached")
    name = page.locator("#queue h2")
    first = name.inner_text()
    page.keyboard.press("z")  # the focused current image, beside the best candidate
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    loaded(page, "#viewer img")
    left, right = page.locator("#viewer-img"), page.locator("#viewer-img-b")
    a, b = left.bounding_box(), right.bounding_box()
    assert a["width"] == pytest.approx(b["width"], abs=1)
    assert a["height"] == pytest.approx(b["height"], abs=1) and a["height"] > 700
    # The current image comes from Commons at the candidate's resolution, not the 800 px copy.
    naturals = [img.evaluate("i => i.naturalWidth") for img in (left, right)]
    assert naturals[0] == naturals[1] == 1920, naturals
    expect(page.locator("#viewer-caption")).to_contain_text("Score")
    expect(page.locator("#viewer-a")).to_have_class("viewer-side active")
    screenshot(page, "queue-compare.png", full_page=False)

    page.keyboard.press("ArrowRight")  # the candidate now
    expect(page.locator("#viewer-b")).to_have_class("viewer-side active")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("g")  # current image good, from the enlarged view: closes, advances
    expect(viewer).to_be_hidden()
    expect(name).not_to_have_text(first)
    expect(page.locator("#queue-count")).to_have_text("1 of 2 labelled")

    second = name.inner_text()
    page.keyboard.press("z")
    expect(viewer).to_be_visible()
    page.keyboard.press("1")  # use candidate 1, from the enlarged view
    expect(page.locator("#queue")).to_contain_text("Nothing left to review")
    side = ImageCandidate.objects.get(poi__name=second, title__endswith="side.jpg")
    assert SelectedImage.objects.get(poi__name=second).sha1 == side.sha1


def test_a_label_is_kept_across_an_expired_session(browser_page, live_server, ranked_city):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/?city=paris")
    louvre = poi("Louvre")
    Session.objects.all().delete()  # the session expired
    page.locator(f"#poi-{louvre.pk} .tile-current").get_by_role("button", name="Good").click()
    page.wait_for_url("**/accounts/login/**")
    assert not ImageTrainingData.objects.exists()
    page.fill("#id_username", "curator")
    page.fill("#id_password", "s3cret-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/image-ranking/?city=paris")
    pending = page.locator("#pending-label")
    expect(pending).to_contain_text("Not saved yet: Good on Louvre: current image")
    assert not ImageTrainingData.objects.exists()  # only once the curator says so
    screenshot(page, "pending-after-login.png", full_page=False)
    pending.get_by_role("button", name="Send it now").click()
    expect(page.locator(f"#poi-{louvre.pk} .tile-current .marked-good")).to_be_visible()
    label = ImageTrainingData.objects.get()
    assert (label.poi_id, label.image_label) == (louvre.pk, "good")
    page.reload()
    expect(page.locator("#pending-label")).to_have_count(0)  # sent: nothing offered again


def test_a_label_is_kept_across_a_csrf_reload(browser_page, live_server, ranked_city):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/queue/?city=paris")
    page.wait_for_selector("body[data-review-ready]", state="attached")
    first = page.locator("#queue h2").inner_text()
    # Signed out and in again in another tab: the page's token no longer matches.
    page.context.add_cookies([{"name": "csrftoken", "value": "x" * 32, "url": live_server.url}])
    page.keyboard.press("g")
    expect(page.locator("#queue .card-alert")).to_contain_text("Your session changed")
    assert not ImageTrainingData.objects.exists()
    page.get_by_role("button", name="Reload the page").click()
    pending = page.locator("#pending-label")
    expect(pending).to_contain_text("Not saved yet: Good on")
    pending.get_by_role("button", name="Send it now").click()
    expect(page.locator("#queue h2")).not_to_have_text(first)  # saved, and on to the next
    assert ImageTrainingData.objects.get().poi.name == first


def test_mark_all_good_asks_first_and_one_undo_takes_all_back(
    browser_page, live_server, ranked_city
):
    page, expect = browser_page
    login(page, live_server, "/image-ranking/?city=paris")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    bulk = page.get_by_role("button", name="Mark all current images on this page good")
    bulk.click()  # dismissed: nothing marked
    expect(page.locator(".marked-good")).to_have_count(0)
    assert asked == [
        "Mark 2 unlabelled current images on this page good? One undo (u) takes them all back."
    ]
    assert not ImageTrainingData.objects.exists()
    bulk.click()  # accepted
    expect(page.locator(".marked-good")).to_have_count(2)
    assert ImageTrainingData.objects.count() == 2
    page.wait_for_selector("body[data-review-ready]", state="attached")
    page.keyboard.press("u")
    expect(page.locator(".marked-good")).to_have_count(0)
    assert not ImageTrainingData.objects.exists()
    expect(page.locator(".messages")).to_contain_text("Undone: 2 label(s)")
