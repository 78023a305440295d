"""Stored images when DEBUG is off: Django serves MEDIA_ROOT only with SERVE_MEDIA."""

from __future__ import annotations

import importlib

import pytest
from django.test import Client
from django.urls import clear_url_caches

import config.urls


@pytest.fixture
def reload_urls(settings):
    def reload(**values):
        for key, value in values.items():
            setattr(settings, key, value)
        clear_url_caches()
        importlib.reload(config.urls)

    yield reload
    clear_url_caches()
    importlib.reload(config.urls)


@pytest.fixture
def stored_image(settings):
    path = settings.MEDIA_ROOT / "cities" / "images" / "paris" / "1-louvre.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    return "/media/cities/images/paris/1-louvre.jpg"


def test_debug_off_serves_no_media_by_default(reload_urls, stored_image):
    reload_urls(DEBUG=False, SERVE_MEDIA=False)
    assert Client().get(stored_image).status_code == 404


def test_serve_media_serves_stored_images_with_debug_off(reload_urls, stored_image):
    reload_urls(DEBUG=False, SERVE_MEDIA=True)
    response = Client().get(stored_image)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\xff\xd8\xff\xe0 a jpeg"
    assert response["Content-Type"] == "image/jpeg"
    assert Client().get("/media/%2e%2e/config/settings.py").status_code in (400, 404)
