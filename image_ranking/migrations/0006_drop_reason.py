"""Why a candidate was dropped becomes a code with details (``drop``, ``drop_detail``).

Existing sentences are read once, here, into codes; a sentence no pattern matches is kept
whole as ``other``. Going back renders the sentences again. The patterns and sentences are
frozen copies of the ones the code used when this migration was written.
"""

from __future__ import annotations

import re

from django.db import migrations, models

TEXT = r"(?P<text>.*)"
PATTERNS = [
    ("not_raster", r"not a raster (?:photo|image) \((?P<mime>.*)\)"),
    ("title_not_photo", r"title marks a map, plan, logo, flag or diagram \('(?P<word>.*)'\)"),
    (
        "category_not_photo",
        r"category marks a map, plan, logo, flag or drawing \(Category:(?P<category>.*)\)",
    ),
    ("too_small", r"too small \((?P<width>\d+) px wide, under (?P<min_width>\d+)\)"),
    ("aspect_ratio", r"extreme aspect ratio \((?P<ratio>[\d.]+):1\)"),
    ("no_thumbnail", r"no thumbnail URL"),
    ("not_a_photo_category", r"not a photo: Category:(?P<category>.*)"),
    ("not_a_photo_title", r"not a photo: '(?P<word>.*)' in the title"),
    ("elsewhere_category", r"elsewhere: Category:(?P<category>.*)"),
    ("elsewhere_distance", r"elsewhere: (?P<amount>[\d.,]+) (?P<unit>m|km) away"),
    ("elsewhere_description", r"elsewhere: described as in (?P<place>.*)"),
    ("host_refused", r"thumbnail refused: (?P<error>.*not in IMAGE_RANKING_DOWNLOAD_HOSTS.*)"),
    ("thumbnail_refused", r"thumbnail refused: (?P<error>.*)"),
    ("thumbnail_unscorable", r"thumbnail could not be decoded or scored"),
    (
        "thumbnail_retry",
        r"thumbnail retry \d+/\d+(?: \(given up until --refresh\))?: (?P<error>.*)",
    ),
    (
        "pixels_not_photo",
        r"not a photo \(pixels\): (?P<background>\d+)% blank background, (?P<colours>\d+) colours.*",
    ),
    ("clip_not_photo", r"not a photo \(CLIP\): looks like (?P<label>.*) \((?P<share>[\d.]+)\)"),
]
QUALIFIED = re.compile(r"^.+?\s*(?:\(([^()]+)\)|,\s*(.+)|\s+in\s+(.+))$")


def parse(reason: str) -> tuple[str, dict]:
    """(code, details) for a stored sentence."""
    if not reason:
        return "", {}
    for code, pattern in PATTERNS:
        match = re.fullmatch(pattern, reason, re.DOTALL)
        if match is None:
            continue
        detail = dict(match.groupdict())
        if code in ("too_small",):
            detail = {k: int(v) for k, v in detail.items()}
        elif code == "aspect_ratio":
            detail["ratio"] = float(detail["ratio"])
        elif code == "elsewhere_distance":
            amount = float(detail.pop("amount").replace(",", ""))
            detail = {"metres": amount * (1000 if detail.pop("unit") == "km" else 1)}
        elif code == "elsewhere_category":
            place = QUALIFIED.match(detail["category"].strip())
            detail["place"] = next((g for g in place.groups() if g), "") if place else ""
        elif code == "pixels_not_photo":
            detail = {
                "background": int(detail["background"]) / 100,
                "colours": int(detail["colours"]),
            }
        elif code == "clip_not_photo":
            detail["share"] = float(detail["share"])
        return code, detail
    return "other", {"text": reason}


def forwards(apps, schema_editor):
    ImageCandidate = apps.get_model("image_ranking", "ImageCandidate")
    rows = ImageCandidate.objects.exclude(filtered_reason="").only("pk", "filtered_reason")
    for row in rows.iterator():
        row.drop, row.drop_detail = parse(row.filtered_reason)
        row.save(update_fields=["drop", "drop_detail"])


def backwards(apps, schema_editor):
    from image_ranking.drops import sentence  # the sentences of the code that is running

    ImageCandidate = apps.get_model("image_ranking", "ImageCandidate")
    rows = ImageCandidate.objects.exclude(drop="").only(
        "pk", "drop", "drop_detail", "thumbnail_failures"
    )
    for row in rows.iterator():
        row.filtered_reason = sentence(row.drop, row.drop_detail, row.thumbnail_failures)[:200]
        row.save(update_fields=["filtered_reason"])


class Migration(migrations.Migration):
    dependencies = [
        ("image_ranking", "0005_review_claims"),
    ]

    operations = [
        migrations.AddField(
            model_name="imagecandidate",
            name="drop",
            field=models.CharField(
                blank=True,
                choices=[
                    ("not_raster", "not a raster photo"),
                    ("title_not_photo", "title marks a map, plan, logo, flag or diagram"),
                    ("category_not_photo", "category marks a map, plan, logo, flag or drawing"),
                    ("too_small", "too small"),
                    ("aspect_ratio", "extreme aspect ratio"),
                    ("no_thumbnail", "no thumbnail URL"),
                    ("not_a_photo_category", "not a photo"),
                    ("not_a_photo_title", "not a photo"),
                    ("elsewhere_category", "elsewhere"),
                    ("elsewhere_distance", "elsewhere"),
                    ("elsewhere_description", "elsewhere"),
                    ("thumbnail_refused", "thumbnail refused"),
                    ("host_refused", "thumbnail refused"),
                    ("thumbnail_unscorable", "thumbnail could not be decoded or scored"),
                    ("thumbnail_retry", "thumbnail retry"),
                    ("pixels_not_photo", "not a photo (pixels)"),
                    ("clip_not_photo", "not a photo (CLIP)"),
                    ("other", "other"),
                ],
                help_text="Why it was dropped or not scored; blank if kept.",
                max_length=30,
            ),
        ),
        migrations.AddField(
            model_name="imagecandidate",
            name="drop_detail",
            field=models.JSONField(
                blank=True, default=dict, help_text="The values the drop's sentence names."
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="imagecandidate", name="filtered_reason"),
    ]
