"""The shared decoder: every awkward kind of image decodes to RGB or is refused with a reason."""

from __future__ import annotations

import io
import logging

import pytest
from PIL import Image

from image_ranking.exceptions import ImageDecodeError
from image_ranking.media import images


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def rgb(size=(64, 48), color=(200, 30, 30)) -> Image.Image:
    return Image.new("RGB", size, color)


def awkward_images() -> dict[str, bytes]:
    palette = rgb().convert("P", palette=Image.Palette.ADAPTIVE)
    transparent = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    frames = [rgb(color=(255, 0, 0)), rgb(color=(0, 0, 255))]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored landscape, shown portrait
    return {
        "jpeg": encode(rgb(), "JPEG"),
        "cmyk": encode(rgb().convert("CMYK"), "JPEG"),
        "palette": encode(palette, "PNG"),
        "alpha": encode(transparent, "PNG"),
        "grey16": encode(Image.new("I;16", (32, 32), 40000), "PNG"),
        "animated": animated.getvalue(),
        "webp": encode(rgb(), "WEBP"),
        "exif": encode(rgb((60, 20)), "JPEG", exif=exif.tobytes()),
    }


@pytest.mark.parametrize("kind", sorted(awkward_images()))
def test_awkward_images_decode_to_rgb(kind):
    image = images.decode_image(awkward_images()[kind])
    assert image is not None and image.mode == "RGB"


def test_details_of_awkward_images():
    data = awkward_images()
    assert images.decode_image(data["exif"]).size == (20, 60)  # EXIF orientation applied
    assert images.decode_image(data["alpha"]).getpixel((5, 5)) == (255, 255, 255)  # on white
    assert images.decode_image(data["animated"]).getpixel((5, 5))[0] > 200  # first frame: red
    assert 150 < images.decode_image(data["grey16"]).getpixel((5, 5))[0] < 160  # 40000/256


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<html>not an image</html>", "not a readable image"),
        (encode(rgb((400, 300)), "JPEG")[:200], "could not be decoded"),
        (encode(rgb(), "BMP"), "Unsupported image format BMP"),
        (encode(rgb(), "TIFF"), "Unsupported image format TIFF"),
    ],
)
def test_bad_bytes_are_refused_with_a_reason(data, reason, caplog):
    with pytest.raises(ImageDecodeError, match=reason):
        images.open_image(data)
    with caplog.at_level(logging.INFO, logger="image_ranking.media.images"):
        assert images.decode_image(data, label="photo.jpg") is None
    assert "Skipping photo.jpg: " in caplog.text and reason.split()[0] in caplog.text


def test_decompression_bomb_is_refused_before_decoding():
    # 100 megapixels of one colour compress to a few KB: the classic bomb.
    bomb = encode(Image.new("1", (10_000, 10_000)), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(ImageDecodeError, match="too large"):
        images.open_image(bomb)
    assert images.decode_image(bomb) is None
    with pytest.raises(ImageDecodeError, match=r"too large to process \(64x48 pixels\)"):
        images.open_image(encode(rgb(), "PNG"), max_pixels=1000)
