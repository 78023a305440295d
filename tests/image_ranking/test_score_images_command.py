from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from image_ranking.learning import fitting
from image_ranking.management.commands.score_images import expand_paths
from image_ranking.scoring import embeddings as emb
from image_ranking.scoring import heads
from tests.conftest import REPO_ROOT
from tests.image_ranking.learned_helpers import blurred_image, jpeg_bytes, sharp_image


@pytest.fixture(scope="module")
def head_file(tmp_path_factory):
    backbone = emb.get_backbone("efficientnet-lite0")
    images = [sharp_image(i) for i in range(6)] + [blurred_image(200 + i) for i in range(6)]
    head = fitting.fit_head(
        backbone.embed(images), ["good"] * 6 + ["bad"] * 6, "label", backbone.name,
        backbone.settings,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("heads") / "head.json"
    heads.save_head(head, path)
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


@pytest.mark.django_db  # no setting: the learned scorer looks for the active head
def test_learned_scorer_without_head_says_what_to_do(photos, settings):
    settings.IMAGE_RANKING_LEARNED_HEAD = None
    with pytest.raises(CommandError, match="no head is active and IMAGE_RANKING_LEARNED_HEAD"):
        run(str(photos), "--scorer", "learned")


def test_empty_folder(tmp_path):
    with pytest.raises(CommandError, match="No image files"):
        run(str(tmp_path))


def test_expand_paths_keeps_given_files_and_lists_folders(photos):
    files = expand_paths([str(photos), str(photos / "notes.txt")])
    assert [f.name for f in files] == ["a_sharp.jpg", "b_blurred.JPG", "c_broken.png", "notes.txt"]


# ------------------------------------------------- hostile paths and exit codes (issue 13)


def fast_run(*args):
    """The command with the brightness scorer (``brightness`` fixture) in place."""
    return run(*args, "--scorer", "learned")


def test_fifo_and_device_are_refused_without_reading(brightness, photos, tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # reading it would block until a writer comes: never
    out, err = fast_run(str(fifo), "/dev/zero", str(photos / "a_sharp.jpg"))
    assert f"{fifo}: not a regular file" in err
    assert "/dev/zero: not a regular file" in err
    assert out.splitlines()[:2] == [f"unreadable\t{fifo}", "unreadable\t/dev/zero"]
    assert "Scored 1 of 3 files" in err


def test_files_over_the_size_cap_are_not_read(brightness, photos, settings):
    big = photos / "a_sharp.jpg"
    size = big.stat().st_size
    settings.IMAGE_RANKING_MAX_DOWNLOAD_BYTES = size - 1
    with pytest.raises(CommandError, match="Scored 0 of 1 files"):
        fast_run(str(big))
    out, err = fast_run(str(big), "--max-bytes", str(size))
    assert "Scored 1 of 1 files" in err


def test_nothing_scored_is_a_failure_exit(brightness, photos, tmp_path):
    missing = [str(tmp_path / "gone-1.jpg"), str(tmp_path / "gone-2.jpg")]
    with pytest.raises(CommandError, match=r"Scored 0 of 3 files with .*; 3 unreadable\."):
        fast_run(*missing, str(photos / "c_broken.png"))


def test_exit_status_of_the_real_command(tmp_path):
    # manage.py turns the CommandError into exit status 1 with the message on stderr.
    result = subprocess.run(
        [sys.executable, "manage.py", "score_images", str(tmp_path / "gone.jpg"), "--scorer",
         "laion-vit-b-32", "--max-bytes", "0"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "CommandError: --max-bytes must be at least 1." in result.stderr
