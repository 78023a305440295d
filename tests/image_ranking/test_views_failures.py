"""Failures a curator can act on: expired sessions, stale CSRF tokens, Commons trouble."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from image_ranking import exceptions
from image_ranking.models import SelectedImage
from image_ranking.views import failures
from tests.image_ranking import test_views

pytestmark = pytest.mark.django_db

# The review page's fixtures (a ranked city, a logged-in curator) are test_views'.
HTMX = test_views.HTMX
city, curator, staff = test_views.city, test_views.curator, test_views.staff

MARK = reverse("image_ranking:mark")


def test_an_expired_session_under_htmx_sends_the_browser_to_log_in_and_back(city, curator):
    Session.objects.all().delete()  # logged out in another tab
    selected = SelectedImage.objects.get(poi__name="Orsay")
    data = {"poi": selected.poi_id, "image_url": selected.source_url, "label": "good"}
    response = curator.post(
        MARK, data, HTTP_HX_CURRENT_URL="http://testserver/image-ranking/?city=paris", **HTMX
    )
    # Not a 302 (htmx would follow it and swap the login page into the tile).
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=/image-ranking/%3Fcity%3Dparis"
    other_host = curator.post(MARK, data, HTTP_HX_CURRENT_URL="https://evil.example/x", **HTMX)
    assert other_host["HX-Redirect"] == "/accounts/login/?next=/image-ranking/mark/"


def test_a_stale_csrf_token_says_reload(city, staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get(reverse("image_ranking:review"))
    htmx = client.post(MARK, {}, HTTP_X_CSRFTOKEN="stale" * 8, **HTMX)
    assert htmx.status_code == 403 and htmx["X-Reload-Needed"] == "1"
    assert "Your session changed" in htmx.content.decode()
    plain = client.post(MARK, {}, HTTP_REFERER="http://testserver/image-ranking/?q=x")
    html = plain.content.decode()
    assert plain.status_code == 403 and "Your session changed" in html
    assert 'href="http://testserver/image-ranking/?q=x"' in html and "<html" in html


def test_the_login_page_is_the_projects(city):
    html = Client().get("/accounts/login/?next=/image-ranking/").content.decode()
    assert "Sign in" in html and "site.css" in html and "favicon.svg" in html
    assert 'name="next" value="/image-ranking/"' in html


def test_the_page_shows_who_is_logged_in_and_a_logout_button(city, curator):
    html = curator.get(reverse("image_ranking:review")).content.decode()
    assert "Signed in as <strong>curator</strong>" in html
    assert 'action="/accounts/logout/"' in html
    assert 'target="_blank" rel="noopener noreferrer">Source on Commons' in html
    response = curator.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"


def test_the_page_client_never_sleeps(commons_settings):
    client = failures.interactive_client()
    assert client.http.wait_for_budget is False  # no budget wait, no back-off


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (exceptions.TransientCommonsError("HTTPConnectionPool(host=x) Max retries"), "Commons did"),
        (exceptions.CommonsError("HTTP 403 from https://commons"), "Commons did not answer"),
        (exceptions.ImageStorageError("Disk full."), "The current image is unchanged"),
        (exceptions.ModelWeightsMissingError("Run download_models."), "download_models"),
        (exceptions.DownloadTooLargeError("x"), "cannot be downloaded"),
        (ValueError("boom"), "Fetching alternatives failed; nothing was changed"),
    ],
)
def test_curator_messages_hide_the_technical_detail(exc, expected):
    message = failures.curator_message(exc, "Fetching alternatives")
    assert expected in message
    assert "HTTPConnectionPool" not in message and "https://" not in message


def test_an_exhausted_budget_says_until_when():
    at = dt.datetime(2026, 1, 1, 14, 5, tzinfo=dt.UTC).timestamp()
    exc = exceptions.BudgetExhaustedError("budget spent", retry_at=at, retry_after=60.0)
    message = failures.curator_message(exc, "Fetching alternatives")
    assert "request budget is used up until 14:05" in message and "nothing was changed" in message
