from __future__ import annotations

import io
import resource
import signal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from cities.models import PointOfInterest, Validation
from image_ranking.exceptions import ImageStorageError
from image_ranking.media import storage
from image_ranking.media.storage import prepare_image, store_poi_image
from image_ranking.models import ImageCandidate, SelectedImage

pytestmark = pytest.mark.django_db


def image_bytes(size=(2000, 1500), color=(200, 40, 40), fmt="JPEG", mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def open_stored(poi) -> Image.Image:
    poi.refresh_from_db()
    with poi.image_file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


@pytest.fixture
def candidate(poi):
    return ImageCandidate.objects.create(
        poi=poi,
        title="File:Tour Eiffel.jpg",
        sha1="a" * 40,
        image_url="https://upload.wikimedia.org/x/Tour_Eiffel.jpg",
        page_url="https://commons.wikimedia.org/wiki/File:Tour_Eiffel.jpg",
        author="Jane Doe",
        license_name="CC BY-SA 4.0",
        license_url="https://creativecommons.org/licenses/by-sa/4.0/",
        attribution_required=True,
        score=7.5,
    )


def media_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((2000, 1500), (800, 600)),  # landscape 4:3 fills the box
        ((1000, 2000), (300, 600)),  # portrait: height decides
        ((3000, 1000), (800, 267)),  # panorama: width decides
        ((300, 200), (300, 200)),  # small: never enlarged
    ],
)
def test_fits_within_target_keeping_aspect(poi, candidate, size, expected, settings):
    selected = store_poi_image(poi, image_bytes(size), chosen_by="ranker", candidate=candidate)
    stored = open_stored(poi)
    assert stored.format == "JPEG"
    assert stored.size == expected
    assert selected.file_name == poi.image_file.name
    assert poi.image_file.name.startswith(f"cities/images/paris/{poi.pk}-eiffel-tower-")
    assert poi.image_file.name.endswith(".jpg")


def test_target_size_is_a_setting(poi, settings):
    settings.IMAGE_RANKING_TARGET_WIDTH = 400
    settings.IMAGE_RANKING_TARGET_HEIGHT = 400
    store_poi_image(poi, image_bytes((1000, 500)), chosen_by="ranker")
    assert open_stored(poi).size == (400, 200)


def test_exif_orientation_is_honoured(poi):
    # A camera held upright: pixels stored 400x200, EXIF says "rotate 90".
    exif = Image.Exif()
    exif[0x0112] = 6
    data = image_bytes((400, 200), exif=exif.tobytes())
    store_poi_image(poi, data, chosen_by="ranker")
    assert open_stored(poi).size == (200, 400)


def test_png_with_transparency_stays_png(poi):
    data = image_bytes((1600, 1200), (0, 0, 255, 100), fmt="PNG", mode="RGBA")
    store_poi_image(poi, data, chosen_by="ranker")
    stored = open_stored(poi)
    assert poi.image_file.name.endswith(".png")
    assert stored.format == "PNG" and stored.mode == "RGBA" and stored.size == (800, 600)


def test_opaque_png_becomes_jpeg(poi):
    data = image_bytes((1600, 1200), (0, 0, 255, 255), fmt="PNG", mode="RGBA")
    store_poi_image(poi, data, chosen_by="ranker")
    assert open_stored(poi).format == "JPEG"


def test_gif_uses_first_frame(poi):
    frames = [Image.new("RGB", (100, 80), c) for c in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    store_poi_image(poi, out.getvalue(), chosen_by="ranker")
    stored = open_stored(poi).convert("RGB")
    red, green, _ = stored.getpixel((50, 40))
    assert red > 200 and green < 60


def test_cmyk_and_16_bit_are_converted(poi):
    store_poi_image(poi, image_bytes((900, 900), (0, 255, 255, 0), mode="CMYK"), chosen_by="ranker")
    assert open_stored(poi).mode == "RGB"
    grey16 = Image.new("I;16", (100, 100), 40000)
    out = io.BytesIO()
    grey16.save(out, format="PNG")
    prepared = prepare_image(out.getvalue())
    decoded = Image.open(io.BytesIO(prepared.data))
    assert decoded.mode == "L" and 150 < decoded.getpixel((5, 5)) < 160  # 40000/256 = 156


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"not an image at all", "not a readable image"),
        (image_bytes((500, 500))[:300], "could not be decoded"),
        (image_bytes((50, 50), fmt="BMP"), "Unsupported image format BMP"),
    ],
)
def test_bad_bytes_raise_and_store_nothing(poi, settings, data, message):
    with pytest.raises(ImageStorageError, match=message):
        store_poi_image(poi, data, chosen_by="ranker")
    poi.refresh_from_db()
    assert not poi.image_file
    assert media_files(settings) == []
    assert not SelectedImage.objects.exists()


def test_provenance_is_recorded(poi, candidate):
    selected = store_poi_image(
        poi,
        image_bytes(),
        chosen_by="ranker",
        candidate=candidate,
        score=7.5,
        scorer_name="laion-vit-l-14",
        scorer_version="v1",
    )
    selected.refresh_from_db()
    assert selected.candidate == candidate
    assert selected.title == "File:Tour Eiffel.jpg"
    assert selected.sha1 == "a" * 40
    assert selected.source_url == candidate.image_url
    assert selected.page_url == candidate.page_url
    assert selected.author == "Jane Doe"
    assert selected.license_name == "CC BY-SA 4.0"
    assert selected.license_url.startswith("https://creativecommons.org/")
    assert selected.score == 7.5 and selected.scorer_name == "laion-vit-l-14"


def test_source_overrides_and_rejects_unknown_fields(poi):
    selected = store_poi_image(
        poi, image_bytes(), chosen_by="fallback", source={"title": "fallbacks/see.jpg"}
    )
    assert selected.title == "fallbacks/see.jpg" and selected.chosen_by == "fallback"
    with pytest.raises(ValueError, match="Unknown provenance field"):
        store_poi_image(poi, image_bytes(), chosen_by="ranker", source={"colour": "red"})


def test_old_file_is_deleted_only_after_commit(poi, settings, django_capture_on_commit_callbacks):
    poi.image_file.save("old.jpg", ContentFile(image_bytes((100, 100))), save=True)
    old_name = poi.image_file.name
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        store_poi_image(poi, image_bytes(), chosen_by="ranker")
    new_name = poi.image_file.name
    assert new_name != old_name
    # Not committed yet: both files exist.
    assert poi.image_file.storage.exists(old_name)
    assert poi.image_file.storage.exists(new_name)
    for callback in callbacks:
        callback()
    assert not poi.image_file.storage.exists(old_name)
    assert poi.image_file.storage.exists(new_name)
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == new_name


def test_failed_save_keeps_old_image_and_removes_new_file(
    poi, settings, monkeypatch, django_capture_on_commit_callbacks
):
    poi.image_file.save("old.jpg", ContentFile(image_bytes((100, 100))), save=True)
    old_name = poi.image_file.name

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(SelectedImage.objects, "update_or_create", broken)
    expected = "database went away.*previous image was kept"
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ImageStorageError, match=expected),
    ):
        store_poi_image(poi, image_bytes(), chosen_by="ranker")
    assert callbacks == []
    assert poi.image_file.name == old_name
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == old_name
    assert media_files(settings) == [old_name]


def test_storage_write_failure_keeps_old_image(poi, settings, monkeypatch):
    poi.image_file.save("old.jpg", ContentFile(image_bytes((100, 100))), save=True)
    old_name = poi.image_file.name

    def full_disk(self, name, content, max_length=None):
        raise OSError(28, "No space left on device")

    from django.core.files.storage import FileSystemStorage

    monkeypatch.setattr(FileSystemStorage, "save", full_disk)
    with pytest.raises(ImageStorageError, match="No space left"):
        store_poi_image(poi, image_bytes(), chosen_by="ranker")
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == old_name
    assert poi.image_file.name == old_name


def test_old_file_shared_with_another_poi_is_kept(poi, django_capture_on_commit_callbacks):
    poi.image_file.save("old.jpg", ContentFile(image_bytes((100, 100))), save=True)
    other = PointOfInterest.objects.create(
        city=poi.city, name="Other", category="see", image_file=poi.image_file.name
    )
    with django_capture_on_commit_callbacks(execute=True):
        store_poi_image(poi, image_bytes(), chosen_by="ranker")
    assert other.image_file.storage.exists(other.image_file.name)


def test_real_image_resolves_open_report_but_fallback_does_not(poi):
    Validation.objects.create(
        context="image_ranking", aggregate="no_images", description="x", poi=poi, city=poi.city
    )
    store_poi_image(poi, image_bytes(), chosen_by="fallback", source={"title": "f.jpg"})
    assert Validation.objects.get().resolved is False
    store_poi_image(poi, image_bytes(), chosen_by="curator")
    assert Validation.objects.get().resolved is True
    assert SelectedImage.objects.get(poi=poi).chosen_by == "curator"


def test_unsaved_poi_and_bad_chosen_by_are_refused(poi):
    with pytest.raises(ValueError, match="chosen_by"):
        store_poi_image(poi, image_bytes(), chosen_by="robot")
    unsaved = PointOfInterest(city=poi.city, name="New", category="see")
    with pytest.raises(ImageStorageError, match="saved"):
        store_poi_image(unsaved, image_bytes(), chosen_by="ranker")


def test_decompression_bomb_is_refused(monkeypatch, poi):
    monkeypatch.setattr(storage, "MAX_PIXELS", 1000)
    with pytest.raises(ImageStorageError, match="too large"):
        store_poi_image(poi, image_bytes((100, 100)), chosen_by="ranker")


def test_a_write_that_fails_half_way_leaves_no_partial_file(poi, settings):
    """A real failed write (the file-size limit, like a full disk) after some bytes."""
    poi.image_file.save("old.jpg", ContentFile(image_bytes((10, 10))), save=True)
    old_name = poi.image_file.name
    assert Path(poi.image_file.path).stat().st_size < 2000
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, limits[1]))
    try:
        with pytest.raises(ImageStorageError, match="File too large.*previous image was kept"):
            store_poi_image(poi, image_bytes(), chosen_by="ranker")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert media_files(settings) == [old_name]
    assert PointOfInterest.objects.get(pk=poi.pk).image_file.name == old_name
