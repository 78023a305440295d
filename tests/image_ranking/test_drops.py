"""Why a candidate was dropped: codes render one sentence each, and migration 0006 reads
the sentences stored before codes existed back into the same codes."""

from __future__ import annotations

import importlib

import pytest

from image_ranking.drops import Drop, sentence, short

migration = importlib.import_module("image_ranking.migrations.0006_drop_reason")

EXAMPLES = {
    Drop.NOT_RASTER: {"mime": "image/svg+xml"},
    Drop.TITLE_NOT_PHOTO: {"word": "map"},
    Drop.CATEGORY_NOT_PHOTO: {"category": "Floor plans of Graz"},
    Drop.TOO_SMALL: {"width": 320, "min_width": 640},
    Drop.ASPECT_RATIO: {"ratio": 8.0},
    Drop.NO_THUMBNAIL: {},
    Drop.NOT_A_PHOTO_CATEGORY: {"category": "Maps of Graz"},
    Drop.NOT_A_PHOTO_TITLE: {"word": "plan"},
    Drop.ELSEWHERE_CATEGORY: {"category": "Clock Tower (Boston)", "place": "Boston"},
    Drop.ELSEWHERE_DISTANCE: {"metres": 12_000.0},
    Drop.ELSEWHERE_DESCRIPTION: {"place": "Boston"},
    Drop.THUMBNAIL_REFUSED: {"error": "5000000 bytes, over the limit"},
    Drop.HOST_REFUSED: {
        "error": "Refusing to download from x.test: it is not in IMAGE_RANKING_DOWNLOAD_HOSTS."
    },
    Drop.THUMBNAIL_UNSCORABLE: {},
    Drop.THUMBNAIL_RETRY: {"error": "HTTP 404"},
    Drop.PIXELS_NOT_PHOTO: {"background": 0.8, "colours": 3},
    Drop.CLIP_NOT_PHOTO: {"label": "a map", "share": 0.9},
    Drop.OTHER: {"text": "some older reason"},
}


def test_every_code_has_an_example_and_a_sentence_starting_with_its_label():
    assert set(EXAMPLES) == set(Drop)
    for drop, detail in EXAMPLES.items():
        text = sentence(drop, detail, failures=1)
        assert text and (drop == Drop.OTHER or text.startswith(short(drop))), drop
    assert sentence("") == "" and short("") == ""


def test_a_retry_counts_the_rows_failures_and_says_when_it_gives_up():
    detail = EXAMPLES[Drop.THUMBNAIL_RETRY]
    assert sentence(Drop.THUMBNAIL_RETRY, detail, 1) == "thumbnail retry 1/3: HTTP 404"
    assert "given up until --refresh" in sentence(Drop.THUMBNAIL_RETRY, detail, 3)


@pytest.mark.parametrize("drop", list(EXAMPLES))
def test_the_migration_reads_each_stored_sentence_back_into_its_code(drop):
    detail = EXAMPLES[drop]
    assert migration.parse(sentence(drop, detail, failures=2)) == (drop, detail)


def test_the_migration_keeps_an_unknown_sentence_whole():
    assert migration.parse("") == ("", {})
    assert migration.parse("map, plan or diagram") == ("other", {"text": "map, plan or diagram"})


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_stored_rows_and_back():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [d for d in migration.Migration.dependencies if d[0] == "image_ranking"]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("image_ranking")
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        poi = apps.get_model("cities", "PointOfInterest").objects.create(
            city=apps.get_model("cities", "City").objects.create(name="Graz", slug="graz"),
            name="Clock Tower",
            category="see",
        )
        rows = apps.get_model("image_ranking", "ImageCandidate").objects
        for title, reason in [
            ("File:A.jpg", "too small (320 px wide, under 640)"),
            ("File:B.jpg", "elsewhere: Category:Clock Tower (Boston)"),
            ("File:C.jpg", ""),
        ]:
            rows.create(poi=poi, title=title, image_url="https://x/a", filtered_reason=reason)
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        from image_ranking.models import ImageCandidate

        after = {c.title: (c.drop, c.drop_detail) for c in ImageCandidate.objects.all()}
        assert after == {
            "File:A.jpg": (Drop.TOO_SMALL, {"width": 320, "min_width": 640}),
            "File:B.jpg": (
                Drop.ELSEWHERE_CATEGORY,
                {"category": "Clock Tower (Boston)", "place": "Boston"},
            ),
            "File:C.jpg": ("", {}),
        }
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        apps = executor.loader.project_state(before).apps
        back = apps.get_model("image_ranking", "ImageCandidate").objects.order_by("title")
        assert [r.filtered_reason for r in back] == [
            "too small (320 px wide, under 640)",
            "elsewhere: Category:Clock Tower (Boston)",
            "",
        ]
    finally:
        MigrationExecutor(connection).migrate(latest)
