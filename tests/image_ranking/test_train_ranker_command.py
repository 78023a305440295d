from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from image_ranking.conf import conf
from image_ranking.exceptions import DisallowedHostError
from image_ranking.management.commands import train_ranker
from image_ranking.priors import PRIOR_BACKBONE
from image_ranking.scoring import heads
from tests.image_ranking.learned_helpers import (
    blurred_image,
    jpeg_bytes,
    sharp_image,
    write_dataset,
)


def run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    call_command("train_ranker", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "photos"
    return write_dataset(folder), folder


def rewrite_csv(path, rows, fieldnames=("file", "label", "quality")):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fieldnames))
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# -------------------------------------------------------------------------------- CSV


def test_trains_from_csv_labels_and_records_everything(dataset, tmp_path):
    csv_path, folder = dataset
    output = tmp_path / "head.json"
    out, _ = run("--from-csv", str(csv_path), "--images", str(folder), "--output", str(output))
    assert "Trained a label head on efficientnet-lite0-live-lite2 (12 bad, 12 good)" in out
    assert "IMAGE_RANKING_LEARNED_HEAD=" + str(output) in out
    raw = json.loads(output.read_text())
    meta = raw["metadata"]
    assert raw["backbone"] == "efficientnet-lite0-live-lite2" and raw["target"] == "label"
    assert meta["label_counts"] == {"bad": 12, "good": 12}
    assert meta["source"] == "csv:labels.csv"
    assert meta["created_at"].startswith("20")
    # Sharp vs blurred is easy: the cross-validated metrics must show it was learned.
    assert meta["cv_metrics"]["auc"] >= 0.9 and meta["cv_metrics"]["accuracy"] >= 0.8
    head, _ = heads.load_head(output)
    first, second = head.backbone_settings["parts"][:2]
    assert first["input_scaling"] == "[-1,1]"
    assert first["finetuned"].startswith("efficientnet-lite0-live.pt@")
    assert second["finetuned"].startswith("efficientnet-lite0-live-2.pt@")
    # The labels adapted the bundled prior; both figures are printed side by side.
    assert meta["prior"].startswith("bundled quality prior")
    prior, new = meta["prior_cv_concordance"], meta["cv_concordance"]
    assert new >= prior
    assert f"prior {prior:.3f} | new head {new:.3f}" in out


def test_trains_on_a_score_column_with_default_output(dataset, settings, tmp_path):
    csv_path, folder = dataset
    settings.IMAGE_RANKING_CACHE_DIR = str(tmp_path / "cache")
    out, _ = run("--from-csv", str(csv_path), "--images", str(folder), "--score-column", "quality")
    output = conf.cache_dir / "heads" / "learned-efficientnet-lite0-live-lite2.json"
    raw = json.loads(output.read_text())
    assert raw["target"] == "score"
    assert raw["metadata"]["label_counts"] == {"scored": 24}
    assert raw["metadata"]["cv_metrics"]["spearman"] > 0.5
    assert raw["calibration"] == {"kind": "linear", "low": 10.0, "high": 90.0}
    assert "spearman" in out


def test_second_training_reuses_cached_embeddings(dataset, tmp_path, monkeypatch):
    csv_path, folder = dataset
    run("--from-csv", str(csv_path), "--images", str(folder), "--output", str(tmp_path / "a"))
    from image_ranking.scoring import embeddings

    backbone = embeddings.get_backbone(PRIOR_BACKBONE)

    def no_encoding(images):
        raise AssertionError("re-encoded a cached image")

    monkeypatch.setattr(backbone, "embed", no_encoding)
    out, _ = run(
        "--from-csv", str(csv_path), "--images", str(folder), "--output", str(tmp_path / "b")
    )
    assert "Encoding" not in out  # and backbone.embed was never called
    assert (tmp_path / "b").exists()


def test_unreadable_images_stop_training_unless_skipped(dataset, tmp_path):
    csv_path, folder = dataset
    rows = read_rows(csv_path)
    (folder / rows[0]["file"]).write_bytes(b"this is not a jpeg")
    rows.append({"file": "missing.jpg", "label": "good", "quality": "50"})
    rewrite_csv(csv_path, rows)
    output = tmp_path / "head.json"
    output.write_text("previous head")
    with pytest.raises(CommandError) as excinfo:
        run("--from-csv", str(csv_path), "--images", str(folder), "--output", str(output))
    message = str(excinfo.value)
    assert "2 of 25 images could not be read" in message
    assert rows[0]["file"] + ": not a readable image" in message
    assert "missing.jpg: cannot read file" in message
    assert "--skip-unreadable" in message
    assert output.read_text() == "previous head"  # nothing half-written or replaced

    _, err = run(
        "--from-csv",
        str(csv_path),
        "--images",
        str(folder),
        "--output",
        str(output),
        "--skip-unreadable",
    )
    assert "Skipping 2 unreadable images" in err
    assert json.loads(output.read_text())["metadata"]["skipped_unreadable"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_files_outside_the_images_folder_are_refused(dataset, tmp_path):
    csv_path, folder = dataset
    rows = read_rows(csv_path)
    rows[0]["file"] = "../../etc/passwd"
    rewrite_csv(csv_path, rows)
    with pytest.raises(CommandError, match="outside the --images folder"):
        run("--from-csv", str(csv_path), "--images", str(folder), "--output", str(tmp_path / "h"))


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        ([{"file": f"{i}.jpg", "label": "good"} for i in range(30)], [], "Only one class"),
        (
            [{"file": f"{i}.jpg", "label": "good" if i % 2 else "bad"} for i in range(8)],
            [],
            "Too few labels: 8 .4 good, 4 bad.; need at least 20",
        ),
        ([{"file": "a.jpg", "label": "great"}], [], "label 'great' is not 'good' or 'bad'"),
        ([{"file": "a.jpg", "label": "good"}], ["--score-column", "mos"], "no column 'mos'"),
        ([{"file": "a.jpg", "label": "x"}], ["--score-column", "label"], "'x' is not a number"),
    ],
)
def test_bad_csv_content_is_a_clear_error(tmp_path, rows, extra, message):
    path = tmp_path / "labels.csv"
    rewrite_csv(path, rows, fieldnames=("file", "label"))
    with pytest.raises(CommandError, match=message):
        run(
            "--from-csv",
            str(path),
            "--images",
            str(tmp_path),
            "--output",
            str(tmp_path / "h"),
            *extra,
        )
    assert not (tmp_path / "h").exists()


def test_csv_without_label_column_suggests_score_column(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,mos\na.jpg,3\n")
    with pytest.raises(CommandError, match="no column 'label' .or name a numeric column"):
        run("--from-csv", str(path), "--images", str(tmp_path))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-csv", "x.csv"], "needs --images DIR"),
        (["--images", "."], "--images only goes with --from-csv"),
        (["--score-column", "mos"], "--score-column only goes with --from-csv"),
        (["--folds", "1"], "--folds must be at least 2"),
        (["--prior", "/nonexistent/head.json"], "does not exist"),
        (["--from-csv", "/nonexistent.csv", "--images", "."], "does not exist"),
    ],
)
def test_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_unknown_backbone_is_rejected():
    with pytest.raises(CommandError, match="invalid choice"):
        run("--backbone", "resnet")


# --------------------------------------------------------------------------- database


@pytest.fixture
def labelled_rows(db):
    from cities.models import City, PointOfInterest
    from image_ranking.models import ImageTrainingData

    city = City.objects.create(name="Paris", slug="paris")
    poi = PointOfInterest.objects.create(city=city, name="Louvre", category="see")
    images = {}
    for i in range(12):
        for kind, image in (("good", sharp_image(i)), ("bad", blurred_image(i + 500))):
            url = f"https://upload.wikimedia.org/thumb/{kind}{i}.jpg"
            images[url] = jpeg_bytes(image)
            ImageTrainingData.objects.create(
                poi=poi, image_url=url.replace("/thumb", ""), thumbnail_url=url, image_label=kind
            )
    return images


def meta_backbone(path):
    return json.loads(path.read_text())["backbone"]


def test_trains_from_database_labels_through_the_injected_downloader(
    labelled_rows, tmp_path, monkeypatch
):
    fetched = []

    def fake_fetch(url):
        fetched.append(url)
        return labelled_rows[url]

    monkeypatch.setattr(train_ranker, "make_fetcher", lambda: fake_fetch)
    output = tmp_path / "head.json"
    out, _ = run("--output", str(output))
    assert sorted(fetched) == sorted(labelled_rows)  # thumbnails, each once
    meta = json.loads(output.read_text())["metadata"]
    assert meta["source"] == "database" and meta["label_counts"] == {"bad": 12, "good": 12}
    assert meta["cv_metrics"]["auc"] >= 0.9
    # Recorded as a head to preview and activate (the curator's loop), not active yet.
    from image_ranking.models import LearnedHead

    head = LearnedHead.objects.get()
    assert f"Registered as head {head.pk}" in out
    assert (head.label_count, head.state, head.backbone) == (24, "candidate", meta_backbone(output))

    # Re-training needs no downloads: the URL -> content -> embedding cache answers.
    fetched.clear()
    out, _ = run("--output", str(output))
    assert fetched == []
    assert "Downloading" not in out and "Trained a label head" in out
    # One POI: each good image beats each bad one of it, 12 x 12 preferences.
    assert "labels and 144 preferences: prior" in out


def test_latest_label_wins_for_an_image_labelled_twice(labelled_rows, tmp_path, monkeypatch):
    from image_ranking.models import ImageTrainingData

    first = ImageTrainingData.objects.filter(image_label="good").first()
    ImageTrainingData.objects.create(
        poi=first.poi,
        image_url=first.image_url,
        thumbnail_url=first.thumbnail_url,
        image_label="bad",
    )
    monkeypatch.setattr(train_ranker, "make_fetcher", lambda: lambda url: labelled_rows[url])
    run("--output", str(tmp_path / "h.json"))
    counts = json.loads((tmp_path / "h.json").read_text())["metadata"]["label_counts"]
    assert counts == {"bad": 13, "good": 11}


def test_failed_downloads_are_reported(labelled_rows, tmp_path, monkeypatch):
    def flaky(url):
        if "good3" in url:
            raise DisallowedHostError(f"{url} is not allowed")
        return labelled_rows[url]

    monkeypatch.setattr(train_ranker, "make_fetcher", lambda: flaky)
    with pytest.raises(CommandError, match=r"good3\.jpg: download failed .*not allowed"):
        run("--output", str(tmp_path / "h.json"))
    run("--output", str(tmp_path / "h.json"), "--skip-unreadable")
    assert json.loads((tmp_path / "h.json").read_text())["metadata"]["label_counts"]["good"] == 11


@pytest.mark.django_db
def test_no_labels_at_all_points_to_the_review_page(tmp_path):
    with pytest.raises(CommandError, match="No labelled images at all. Label images good/bad"):
        run("--output", str(tmp_path / "h.json"))
    assert not (tmp_path / "h.json").exists()


# ------------------------------------------------------------------------ CLIP backbone


def test_clip_backbone_head_trains_and_serves(dataset, tmp_path, monkeypatch, settings):
    """The CLIP path end to end, with a stand-in for the scorer's encoder (no weights here)."""
    import sys
    import types

    import numpy as np

    from image_ranking.scoring import embeddings
    from image_ranking.scoring.learned import LearnedScorer

    class FakeEncoder:
        def __init__(self, model_name, pretrained):
            assert (model_name, pretrained) == ("ViT-B-32", "openai")

        def embed(self, images):
            # Sharpness and brightness as a 3-d "embedding": enough to separate the sets.
            return np.array(
                [
                    [embeddings.image_statistics(im)[0], 1.0, embeddings.image_statistics(im)[3]]
                    for im in images
                ]
            )

    module = types.ModuleType("image_ranking.scoring.clip")
    module.ClipEncoder = FakeEncoder
    monkeypatch.setitem(sys.modules, "image_ranking.scoring.clip", module)
    monkeypatch.setattr(embeddings, "_instances", {})
    csv_path, folder = dataset
    output = tmp_path / "clip.json"
    run(
        "--from-csv", str(csv_path), "--images", str(folder), "--output", str(output),
        "--backbone", "laion-vit-b-32",
    )  # fmt: skip
    raw = json.loads(output.read_text())
    assert raw["backbone"] == "laion-vit-b-32" and len(raw["coef"]) == 3
    assert raw["backbone_settings"]["model"] == "ViT-B-32"
    settings.IMAGE_RANKING_LEARNED_HEAD = str(output)
    sharp, blurred = LearnedScorer()._score_batch([sharp_image(77), blurred_image(78)])
    assert sharp > 5 > blurred


def test_unavailable_clip_encoder_is_a_command_error(dataset, tmp_path, monkeypatch):
    import sys

    from image_ranking.scoring import embeddings

    monkeypatch.setitem(sys.modules, "image_ranking.scoring.clip", None)
    monkeypatch.setattr(embeddings, "_instances", {})
    csv_path, folder = dataset
    with pytest.raises(CommandError, match="CLIP encoder"):
        run(
            "--from-csv", str(csv_path), "--images", str(folder), "--output", str(tmp_path / "h"),
            "--backbone", "laion-vit-l-14",
        )  # fmt: skip
    assert not (tmp_path / "h").exists()


def test_warns_when_the_labels_carry_no_signal(tmp_path):
    # Every photo labelled both good and bad: nothing can be learned, and the command says so.
    folder = tmp_path / "photos"
    folder.mkdir()
    rows = []
    for i in range(12):
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(sharp_image(i)))
        rows += [{"file": f"{i}.jpg", "label": "good"}, {"file": f"{i}.jpg", "label": "bad"}]
    rewrite_csv(tmp_path / "labels.csv", rows, fieldnames=("file", "label"))
    out, err = run(
        "--from-csv", str(tmp_path / "labels.csv"), "--images", str(folder),
        "--output", str(tmp_path / "h.json"),
    )  # fmt: skip
    assert "close to chance" in err
    assert json.loads((tmp_path / "h.json").read_text())["metadata"]["cv_metrics"]["auc"] < 0.6


def test_labels_alone_worse_than_the_prior_need_force(tmp_path, monkeypatch):
    from image_ranking.learning import trainer as trainer_service

    folder = tmp_path / "photos"
    csv_path = write_dataset(folder)
    output = tmp_path / "h.json"
    args = ("--from-csv", str(csv_path), "--images", str(folder), "--output", str(output))
    real = trainer_service._labels_alone

    def worse(*a, **k):
        report = real(*a, **k)
        report.head_concordance = 0.5  # as if the labels alone ranked at chance
        return report

    monkeypatch.setattr(trainer_service, "_labels_alone", worse)
    with pytest.raises(CommandError, match=r"worse than the prior .*0\.500 < .*--force"):
        run(*args, "--prior", "none")
    assert not output.exists()
    out, _ = run(*args, "--prior", "none", "--force")
    assert "prior " in out and "new head 0.500" in out and output.exists()


def test_laion_head_is_the_prior_on_a_clip_backbone(dataset, tmp_path, monkeypatch, settings):
    """Item 4's code path: a LAION-style head (here 4-d, on a stand-in encoder) is folded
    into a linear prior and the labels adapt it."""
    import dataclasses
    import hashlib
    import sys
    import types

    import numpy as np
    import torch

    from image_ranking.scoring import embeddings, laion

    class FakeEncoder:
        def __init__(self, model_name, pretrained):
            pass

        def embed(self, images):
            stats = np.array([embeddings.image_statistics(im) for im in images])
            return np.c_[stats[:, :3], np.ones(len(images))]  # sharpness cues + a constant

    module = types.ModuleType("image_ranking.scoring.clip")
    module.ClipEncoder = FakeEncoder
    monkeypatch.setitem(sys.modules, "image_ranking.scoring.clip", module)
    monkeypatch.setattr(embeddings, "_instances", {})
    head = torch.nn.Linear(4, 1)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[0.3, 0.0, 0.0, 0.0]]))
        head.bias.fill_(5.0)
    path = tmp_path / "weights" / "tiny-laion.pth"
    path.parent.mkdir()
    torch.save(head.state_dict(), path)
    spec = dataclasses.replace(
        laion.HEADS["sa_0_4_vit_b_32_linear"],
        filename=path.name,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        embed_dim=4,
    )
    monkeypatch.setitem(laion.HEADS, "sa_0_4_vit_b_32_linear", spec)
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(path.parent)
    csv_path, folder = dataset
    output = tmp_path / "clip.json"
    out, _ = run(
        "--from-csv", str(csv_path), "--images", str(folder), "--output", str(output),
        "--backbone", "laion-vit-b-32",
    )  # fmt: skip
    meta = json.loads(output.read_text())["metadata"]
    assert meta["prior"] == "LAION aesthetic head tiny-laion.pth"
    assert "(prior: LAION aesthetic head tiny-laion.pth)" in out
    assert meta["cv_concordance"] >= meta["prior_cv_concordance"] > 0.5


def test_says_in_words_what_the_labels_favour_beyond_the_prior(tmp_path):
    # Equally sharp photos; the curator likes warm light and dislikes cold light.
    folder = tmp_path / "tinted"
    folder.mkdir()
    rows = []
    for i in range(24):
        tint = np.array([40, 0, -40] if i % 2 else [-40, 0, 40])
        pixels = np.asarray(sharp_image(i), dtype=int) + tint
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(image))
        rows.append({"file": f"{i}.jpg", "label": "good" if i % 2 else "bad"})
    rewrite_csv(folder / "labels.csv", rows, ("file", "label"))
    output = tmp_path / "head.json"
    csv_path = str(folder / "labels.csv")
    out, _ = run("--from-csv", csv_path, "--images", str(folder), "--output", str(output))
    assert "the labels favour: more warm light (+" in out
    leanings = json.loads(output.read_text())["metadata"]["adaptation"]["leanings"]
    assert max(leanings, key=lambda name: abs(leanings[name])) == "warm light"
