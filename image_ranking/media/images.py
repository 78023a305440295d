"""Decoding untrusted image bytes (Commons thumbnails, uploads, local files) safely.

One place for what every consumer needs: refuse what is not a raster photo format,
refuse decompression bombs before the pixels are read, load the pixels at once so a
truncated file fails here, take the first frame of animations, honour EXIF
orientation, and bring any mode (CMYK, palette, 16-bit, alpha...) to 8-bit RGB/L.
The storage service keeps alpha for PNG output; models get plain RGB.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from image_ranking.exceptions import ImageDecodeError

logger = logging.getLogger(__name__)

# MPO is what Pillow calls JPEGs with extra frames (many camera photos). Commons serves
# thumbnails of TIFF/SVG/PDF files as JPEG/PNG, so nothing else is expected here.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP"})

# Far above any thumbnail we fetch (3840 px wide is 3840x2560 = 10 MP); above it we
# refuse rather than let one image eat a shared worker's memory.
MAX_PIXELS = 60_000_000

# Alpha is composited onto white: transparent PNG logos otherwise turn black.
BACKGROUND = (255, 255, 255)


def open_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``data`` (first frame, EXIF-oriented, pixels loaded) in its own mode.

    Raises ``ImageDecodeError`` saying what is wrong with the bytes.
    """
    if not data:
        raise ImageDecodeError("The image is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its own limit: make that an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageDecodeError(
                    f"Unsupported image format {image.format or 'unknown'}; "
                    "expected JPEG, PNG, GIF or WebP."
                )
            if image.width * image.height > max_pixels:
                raise ImageDecodeError(
                    f"The image is too large to process ({image.width}x{image.height} pixels)."
                )
            image.seek(0)  # first frame of an animated GIF/WebP
            image.load()  # a truncated file fails here, not later in a model
            image = ImageOps.exif_transpose(image)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageDecodeError(
            "The image is too large to process (a decompression bomb, or far too many pixels)."
        ) from None
    except UnidentifiedImageError:
        raise ImageDecodeError("The data is not a readable image.") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise ImageDecodeError(f"The image could not be decoded: {exc}.") from None
    return image


def normalise_mode(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to RGB, L, RGBA or LA without wrecking its colours."""
    if image.mode in ("RGB", "L", "RGBA", "LA"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bits (a plain convert() clips to white).
        return image.point(lambda v: v / 256).convert("L")
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "PA":
        return image.convert("RGBA")
    # CMYK, YCbCr, LAB, 1, F...: Pillow's converters handle them.
    return image.convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB, transparency composited onto white."""
    image = normalise_mode(image)
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB") if image.mode != "RGB" else image


def decode_image(data: bytes | None, *, label: str = "image") -> Image.Image | None:
    """Decode to RGB for a model, or None (reason logged) when the bytes are unusable.

    Scoring many images must not fail because of one bad file, so this never raises
    for bad data; ``label`` names the image in the log line.
    """
    if data is None:
        logger.info("Skipping %s: no data", label)
        return None
    try:
        return to_rgb(open_image(data))
    except ImageDecodeError as exc:
        logger.info("Skipping %s: %s", label, exc)
        return None
