"""Small generated photos for the learned-ranker tests: sharp textures vs blurred copies.

Blur is the flaw the ranker must learn here, as in the real CLIVE ratings; generated
images keep the suite meaningful where ../shared is absent.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

SIZE = (96, 72)


def sharp_image(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    width, height = size
    # Blocky colour regions plus fine noise: edges and texture at several scales.
    blocks = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    base = np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))[:height, :width]
    noise = rng.integers(-40, 40, size=(height, width, 3))
    return Image.fromarray(np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8), "RGB")


def blurred_image(seed: int, size: tuple[int, int] = SIZE, radius: float = 4) -> Image.Image:
    return sharp_image(seed, size).filter(ImageFilter.GaussianBlur(radius))


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def write_dataset(folder: Path, n_per_class: int = 12, start_seed: int = 0) -> Path:
    """JPEGs in ``folder`` and ``folder/labels.csv`` with columns file, label, quality."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_per_class):
        seed = start_seed + i
        # Quality falls with the blur radius, so a numeric column has an order to learn.
        bad_radius = 2 + i % 3
        for kind, image, quality in (
            ("good", sharp_image(seed), 90 - i % 2),
            ("bad", blurred_image(seed + 1000, radius=bad_radius), 70 - 15 * bad_radius),
        ):
            name = f"{kind}_{seed}.jpg"
            (folder / name).write_bytes(jpeg_bytes(image))
            rows.append({"file": name, "label": kind, "quality": quality})
    path = folder / "labels.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "quality"])
        writer.writeheader()
        writer.writerows(rows)
    return path
