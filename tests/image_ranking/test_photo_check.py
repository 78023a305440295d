"""The not-a-photo pixel check on drawn plans, arms and maps versus photo-like images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from image_ranking.drops import Drop
from image_ranking.pipeline.photo_check import check_image


def floor_plan() -> Image.Image:
    image = Image.new("RGB", (960, 720), "white")
    draw = ImageDraw.Draw(image)
    for x in range(60, 900, 140):
        draw.line([(x, 60), (x, 660)], fill="black", width=4)
    for y in (60, 300, 660):
        draw.line([(60, y), (900, y)], fill="black", width=4)
    draw.text((100, 100), "Nave", fill="black")
    return image


def coat_of_arms() -> Image.Image:
    image = Image.new("RGB", (600, 720), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.polygon([(100, 80), (500, 80), (500, 400), (300, 650), (100, 400)], fill=(200, 20, 30))
    draw.rectangle([260, 80, 340, 560], fill=(250, 210, 0))
    return image


def street_map() -> Image.Image:
    image = Image.new("RGB", (960, 720), (242, 242, 238))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        draw.line([(0, 60 * i), (960, 40 + 50 * i)], fill=(250, 200, 80), width=6)
        draw.line([(80 * i, 0), (40 + 70 * i, 720)], fill=(255, 255, 255), width=8)
    draw.ellipse([400, 300, 560, 420], fill=(170, 210, 240))
    return image


def photo_like(seed: int, sky: float = 0.0) -> Image.Image:
    """A scene with structure at every scale; ``sky``: share of the top that is a bright
    overcast sky."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 200, (36, 48, 3)).astype(np.uint8)
    scene = np.asarray(Image.fromarray(coarse).resize((960, 720), Image.BICUBIC), dtype=float)
    pixels = np.clip(scene + rng.normal(0, 12, scene.shape), 0, 255)
    rows = int(720 * sky)
    pixels[:rows] = np.clip(238 + rng.normal(0, 4, (rows, 960, 3)), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8))


def as_jpeg(image: Image.Image) -> Image.Image:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return Image.open(io.BytesIO(out.getvalue()))


@pytest.mark.parametrize("make", [floor_plan, coat_of_arms, street_map])
def test_line_art_is_not_a_photo_also_as_jpeg(make):
    for image in (make(), as_jpeg(make())):
        result = check_image(image)
        assert not result.is_photo
        assert result.reason.startswith(Drop.PIXELS_NOT_PHOTO.label)
        assert "background" in result.reason


@pytest.mark.parametrize("sky", [0.0, 0.6])
def test_photos_pass_even_under_a_white_sky(sky):
    result = check_image(as_jpeg(photo_like(1, sky)))
    assert result.is_photo and result.reason == ""
    assert result.ink_colours > 8


@pytest.mark.parametrize("color", [(240, 240, 240), (255, 255, 255), (90, 90, 90)])
def test_blank_single_colour_images_are_not_called_line_art(color):
    # Test fixtures and the replica serve flat colours; nothing is drawn on them.
    assert check_image(Image.new("RGB", (320, 240), color)).is_photo
