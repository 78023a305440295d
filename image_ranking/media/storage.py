"""Store a chosen image on a POI: decode, fit 800x600 (only shrinking), encode, save.

No data loss: the new file is written first under a new name (``upload_to`` adds a
random suffix), the POI row and its ``SelectedImage`` are updated in one transaction,
and the old file is deleted only after that transaction commits. Any failure removes
the new file, even a partial one a full disk left behind, and leaves the POI with its
old image. A process killed between the write and the commit leaves an unreferenced
file: ``media.orphans`` sweeps those.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Model
from PIL import Image

from image_ranking.conf import conf
from image_ranking.exceptions import ImageDecodeError, ImageStorageError
from image_ranking.models import LearnedHead, SelectedImage
from image_ranking.poi import get_poi_adapter
from image_ranking.media import images
from image_ranking.media.images import normalise_mode, open_image

if TYPE_CHECKING:
    from image_ranking.models import ImageCandidate

logger = logging.getLogger(__name__)

# Decompression-bomb limit for stored images (see images.MAX_PIXELS).
MAX_PIXELS = images.MAX_PIXELS

JPEG_QUALITY = 85

# SelectedImage fields that describe where an image came from.
PROVENANCE_FIELDS = (
    "title",
    "sha1",
    "source_url",
    "page_url",
    "author",
    "license_name",
    "license_url",
    "attribution_required",
)


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to store: encoded bytes and what they are."""

    data: bytes
    extension: str  # ".jpg" or ".png"
    width: int
    height: int


def prepare_image(
    image_bytes: bytes, *, max_width: int | None = None, max_height: int | None = None
) -> PreparedImage:
    """Decode, orient, fit within the target box (never enlarging) and re-encode.

    jpg/jpeg/png/gif (first frame)/webp in; JPEG out, or PNG when the image has real
    transparency. Raises ``ImageStorageError`` saying what is wrong with the bytes.
    """
    max_width = max_width or conf.TARGET_WIDTH
    max_height = max_height or conf.TARGET_HEIGHT
    try:
        # MAX_PIXELS read at call time so an operator (or a test) can lower it here.
        image = open_image(image_bytes, max_pixels=MAX_PIXELS)
    except ImageDecodeError as exc:
        raise ImageStorageError(str(exc)) from None

    image = normalise_mode(image)
    has_alpha = image.mode in ("RGBA", "LA") and image.getchannel("A").getextrema()[0] < 255
    if not has_alpha and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    # thumbnail() keeps the aspect ratio and only ever shrinks, like ImageMagick `WxH>`.
    image.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)

    out = io.BytesIO()
    if has_alpha:
        image.save(out, format="PNG", optimize=True)
        extension = ".png"
    else:
        image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        extension = ".jpg"
    return PreparedImage(out.getvalue(), extension, image.width, image.height)


def store_poi_image(
    poi: Model,
    image_bytes: bytes,
    *,
    chosen_by: str,
    candidate: ImageCandidate | None = None,
    score: float | None = None,
    scorer_name: str = "",
    scorer_version: str = "",
    source: dict[str, Any] | None = None,
    head: Any = None,
) -> SelectedImage:
    """Store ``image_bytes`` as the POI's image and record where it came from.

    ``candidate`` supplies the provenance (title, sha1, URLs, author, licence);
    ``source`` adds or overrides provenance fields (e.g. for a fallback image); ``head``
    is the ``LearnedHead`` that chose it (default: the one named by ``scorer_version``).
    On success the POI's old file is deleted once the transaction commits; on any
    failure the new file is removed, the POI keeps its old image and
    ``ImageStorageError`` is raised.
    """
    if chosen_by not in SelectedImage.ChosenBy.values:
        raise ValueError(f"chosen_by must be one of {SelectedImage.ChosenBy.values}")
    if poi.pk is None:
        raise ImageStorageError("The POI must be saved before an image can be stored on it.")

    prepared = prepare_image(image_bytes)
    provenance = _provenance(candidate, source)
    image_field = get_poi_adapter().image_field
    field_file = getattr(poi, image_field)
    previous_name = field_file.name or ""
    new_name = ""
    try:
        new_name = _write_file(poi, field_file, prepared)
        setattr(poi, image_field, new_name)
        with transaction.atomic():
            selected = _commit(
                poi,
                new_name,
                chosen_by=chosen_by,
                candidate=candidate,
                score=score,
                scorer_name=scorer_name,
                scorer_version=scorer_version,
                provenance=provenance,
                head=head,
            )
    except BaseException as exc:
        # BaseException too: a Ctrl-C between the file write and the commit must not
        # leave an orphan file behind.
        # The new name may be on the instance: put the old one back.
        setattr(poi, image_field, previous_name)
        if new_name:
            delete_quietly(field_file.storage, new_name)
        if isinstance(exc, Exception) and not isinstance(exc, ImageStorageError):
            raise ImageStorageError(
                f"Could not store the image for {poi}: {exc}. The previous image was kept."
            ) from exc
        raise
    logger.info("Stored %s for %s (%dx%d)", new_name, poi, prepared.width, prepared.height)
    return selected


def _write_file(poi: Model, field_file: Any, prepared: PreparedImage) -> str:
    """Write the new file under a new name; returns the name the storage chose.

    What FieldFile.save does, with the name known before the write: a write that fails
    half-way (ENOSPC) must not leave its partial file behind. upload_to (the host's
    naming) names it; the row is updated afterwards, under a lock.
    """
    target = field_file.field.generate_filename(poi, _upload_name(poi, prepared.extension))
    target_existed = field_file.storage.exists(target)
    try:
        return field_file.storage.save(
            target, ContentFile(prepared.data), max_length=field_file.field.max_length
        )
    except BaseException:
        if not target_existed:
            delete_quietly(field_file.storage, target)
        raise


def _commit(
    poi: Model,
    new_name: str,
    *,
    chosen_by: str,
    candidate: ImageCandidate | None,
    score: float | None,
    scorer_name: str,
    scorer_version: str,
    provenance: dict[str, Any],
    head: Any = None,
) -> SelectedImage:
    poi_model = type(poi)
    image_field = get_poi_adapter().image_field
    # Lock the row and read the stored name from the database, not from a possibly
    # stale instance: a concurrent store must not make us delete the wrong file.
    locked = poi_model._default_manager.select_for_update().only("pk", image_field).get(pk=poi.pk)
    old_name = getattr(locked, image_field).name or ""
    poi_model._default_manager.filter(pk=poi.pk).update(**{image_field: new_name})

    defaults = {
        "candidate": candidate if candidate is not None and candidate.pk else None,
        "chosen_by": chosen_by,
        "file_name": new_name,
        "score": score,
        "scorer_name": scorer_name,
        "scorer_version": scorer_version,
        "head": head if head is not None else LearnedHead.for_scorer(scorer_name, scorer_version),
        **provenance,
    }
    selected, _created = SelectedImage.objects.update_or_create(poi=poi, defaults=defaults)

    if chosen_by != SelectedImage.ChosenBy.FALLBACK:
        # A real image now exists: the "no suitable image" report is settled.
        from image_ranking.validations import resolve_no_image

        resolve_no_image(poi)

    if old_name and old_name != new_name:
        storage = getattr(poi, image_field).storage
        transaction.on_commit(lambda: _delete_old_file(poi_model, storage, old_name))
    return selected


def _delete_old_file(poi_model: type[Model], storage: Any, name: str) -> None:
    # Never delete a file another POI still points at (e.g. a hand-made copy).
    if poi_model._default_manager.filter(**{get_poi_adapter().image_field: name}).exists():
        return
    delete_quietly(storage, name)


def delete_quietly(storage: Any, name: str) -> bool:
    """Delete a stored file; False (logged, not raised) if it could not be deleted.

    A file that is already gone counts as deleted. Callers go on either way: a file left
    behind is only wasted space, and the orphan sweep retries it.
    """
    try:
        storage.delete(name)
    except FileNotFoundError:
        pass
    except OSError:
        logger.exception("Could not delete the image file %s", name)
        return False
    return True


def _upload_name(poi: Model, extension: str) -> str:
    # upload_to decides the folder and name; this only carries the extension.
    return f"image{extension}"


def _provenance(candidate: ImageCandidate | None, source: dict[str, Any] | None) -> dict[str, Any]:
    values: dict[str, Any] = {name: "" for name in PROVENANCE_FIELDS}
    values["attribution_required"] = True
    if candidate is not None:
        values.update(
            title=candidate.title,
            sha1=candidate.sha1,
            source_url=candidate.image_url,
            page_url=candidate.page_url,
            author=candidate.author,
            license_name=candidate.license_name,
            license_url=candidate.license_url,
            attribution_required=candidate.attribution_required,
        )
    for key, value in (source or {}).items():
        if key not in PROVENANCE_FIELDS:
            raise ValueError(
                f"Unknown provenance field {key!r}; expected one of {PROVENANCE_FIELDS}"
            )
        values[key] = value
    return values
