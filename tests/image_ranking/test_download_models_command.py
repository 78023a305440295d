from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import shared_path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("download_models", *args, stdout=out, stderr=err)
    finally:
        run.out, run.err = out.getvalue(), err.getvalue()


def test_check_reports_heads_found_and_missing_backbones(settings):
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(shared_path("models", "laion-aesthetic"))
    with pytest.raises(CommandError, match="2 model file"):
        run("--all", "--check")
    assert "sac+logos+ava1-l14-linearMSE.pth" in run.out
    assert "sa_0_4_vit_b_32_linear.pth" in run.out
    assert "ViT-L-14 (openai) is not in IMAGE_RANKING_WEIGHTS_DIR" in run.err
    assert "ViT-B-32" in run.err


def test_everything_present_succeeds(tiny_clip):
    run("tiny-clip")  # a random-weight backbone and a head in the weights dir
    assert "All weights for tiny-clip downloaded and verified." in run.out
    assert "tiny-head.pth" in run.out


@pytest.mark.parametrize(
    ("args", "message"),
    [(("nope",), "Unknown scorer 'nope'"), (("learned",), "no weights to download")],
)
@pytest.mark.django_db  # "learned" looks up the active head
def test_bad_scorer_names(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_the_shipped_default_needs_nothing_and_points_at_laion(settings):
    # A fresh machine scores with the bundled quality prior; LAION is one command away.
    from image_ranking.conf import conf

    assert conf.SCORER == "quality"
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(shared_path("models", "laion-aesthetic"))
    with pytest.raises(CommandError, match="1 model file"):
        run("--check")
    assert "'quality', which needs no download; fetching laion-vit-l-14" in run.out
    assert "IMAGE_RANKING_SCORER=laion-vit-l-14" in run.out
