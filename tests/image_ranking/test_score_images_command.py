from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from image_ranking.management.commands.score_images import expand_paths
from image_ranking.services import embeddings as emb
from image_ranking.services import training
from tests.image_ranking.learned_helpers import blurred_image, jpeg_bytes, sharp_image


@pytest.fixture(scope="module")
def head_file(tmp_path_factory):
    backbone = emb.get_backbone("efficientnet-lite0")
    images = [sharp_image(i) for i in range(6)] + [blurred_image(200 + i) for i in range(6)]
    head = training.fit_head(
        backbone.embed(images), ["good"] * 6 + ["bad"] * 6, "label", backbone.name,
        backbone.settings,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("heads") / "head.json"
    training.save_head(head, path)
    return path


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a_sharp.jpg").write_bytes(jpeg_bytes(sharp_image(31)))
    (folder / "b_blurred.JPG").write_bytes(jpeg_bytes(blurred_image(32)))
    (folder / "c_broken.png").write_bytes(b"\x89PNG broken")
    (folder / "notes.txt").write_text("not an image")
    return folder


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("score_images", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_lines_with_null_for_unreadable(photos, head_file, settings):
    settings.IMAGE_RANKING_LEARNED_HEAD = str(head_file)
    missing = photos / "gone.jpg"
    out, err = run(str(photos), str(missing), "--scorer", "learned", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["file"] for line in lines] == [
        str(photos / "a_sharp.jpg"),
        str(photos / "b_blurred.JPG"),
        str(photos / "c_broken.png"),
        str(missing),
    ]
    assert all(set(line) == {"file", "score"} for line in lines)
    sharp, blurred, broken, gone = (line["score"] for line in lines)
    assert 0 <= blurred < 5 < sharp <= 10
    assert broken is None and gone is None
    assert f"{missing}: cannot read" in err
    assert "Scored 2 of 4 files with learned (learned-" in err and "2 unreadable" in err


def test_plain_lines_use_the_configured_scorer(photos, head_file, settings):
    settings.IMAGE_RANKING_SCORER = "learned"
    settings.IMAGE_RANKING_LEARNED_HEAD = str(head_file)
    out, _ = run(str(photos / "a_sharp.jpg"), str(photos / "c_broken.png"))
    first, second = out.splitlines()
    score, name = first.split("\t")
    assert float(score) > 5 and name.endswith("a_sharp.jpg")
    assert second == f"unreadable\t{photos / 'c_broken.png'}"


def test_unknown_scorer(photos):
    with pytest.raises(CommandError, match="Unknown scorer 'nope'; choose one of: .*learned"):
        run(str(photos), "--scorer", "nope")


def test_learned_scorer_without_head_says_what_to_do(photos, settings):
    settings.IMAGE_RANKING_LEARNED_HEAD = None
    with pytest.raises(CommandError, match="IMAGE_RANKING_LEARNED_HEAD is not set"):
        run(str(photos), "--scorer", "learned")


def test_empty_folder(tmp_path):
    with pytest.raises(CommandError, match="No image files"):
        run(str(tmp_path))


def test_expand_paths_keeps_given_files_and_lists_folders(photos):
    files = expand_paths([str(photos), str(photos / "notes.txt")])
    assert [f.name for f in files] == ["a_sharp.jpg", "b_blurred.JPG", "c_broken.png", "notes.txt"]
