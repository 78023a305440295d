from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from PIL import Image

from image_ranking.scoring import embeddings as emb
from tests.image_ranking.learned_helpers import blurred_image, jpeg_bytes, sharp_image


@pytest.fixture(scope="module")
def backbone():
    return emb.get_backbone("efficientnet-lite0")


# ------------------------------------------------------------------ EfficientNet-Lite0


def test_packaged_weights_load_into_timm_key_by_key(backbone):
    import torch

    state = torch.load(emb.efficientnet_lite0_weights_path(), weights_only=True)
    backbone._load()
    loaded = backbone._model.state_dict()
    # Same tensors in the same order: the mapping is positional, so check it really is.
    for (key, value), original in zip(loaded.items(), state.values(), strict=True):
        assert torch.equal(value, original), key
    assert backbone.settings["input_scaling"] == "[-1,1]"


def test_embedding_shape_finite_and_deterministic(backbone):
    images = [sharp_image(1), blurred_image(2), sharp_image(3, size=(64, 120))]
    first = backbone.embed(images)
    assert first.shape == (3, backbone.dim) == (3, 2152)
    assert first.dtype == np.float32
    assert np.all(np.isfinite(first))
    np.testing.assert_allclose(backbone.embed(images), first, rtol=1e-5, atol=1e-5)
    assert not np.allclose(first[0], first[1])


def test_batching_by_size_matches_one_at_a_time(backbone):
    images = [sharp_image(4), sharp_image(5, size=(80, 80)), blurred_image(6), sharp_image(7)]
    together = backbone.embed(images)
    alone = np.stack([backbone.embed([image])[0] for image in images])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-4)


def test_tiny_grey_and_alpha_images_embed(backbone):
    images = [
        Image.new("L", (5, 9), 128),
        Image.new("RGBA", (40, 30), (10, 200, 30, 100)),
        sharp_image(8, size=(2000, 40)),  # long and thin: shrunk, then padded up to 64
    ]
    vectors = backbone.embed(images)
    assert vectors.shape == (3, backbone.dim)
    assert np.all(np.isfinite(vectors))


def test_large_images_are_shrunk_to_max_side(backbone):
    big = sharp_image(9, size=(1024, 768))
    assert backbone._prepare(big).size == (512, 384)
    assert backbone._prepare(sharp_image(9, size=(300, 200))).size == (300, 200)


def test_empty_batch(backbone):
    assert backbone.embed([]).shape == (0, backbone.dim)


def test_statistics_see_blur_and_noise():
    sharp, blurred = emb.image_statistics(sharp_image(1)), emb.image_statistics(blurred_image(1))
    assert sharp[0] > blurred[0] + 1  # log Laplacian variance
    assert sharp[2] > blurred[2]  # noise estimate
    assert emb.laplacian_sharpness(sharp_image(1)) > emb.laplacian_sharpness(blurred_image(1))


# ----------------------------------------------------------------------------- registry


def test_get_backbone_is_one_instance_and_checks_settings(backbone):
    assert emb.get_backbone("efficientnet-lite0") is backbone
    assert emb.get_backbone("efficientnet-lite0", dict(backbone.settings)) is backbone
    changed = {**backbone.settings, "max_side": 224}
    with pytest.raises(emb.BackboneUnavailable, match="retrain"):
        emb.get_backbone("efficientnet-lite0", changed)
    with pytest.raises(ValueError, match="laion-vit-b-32"):
        emb.get_backbone("resnet-9000")
    assert emb.available_backbones() == [
        "efficientnet-lite0",
        "efficientnet-lite0-lite2",
        "efficientnet-lite0-live-lite2",
        "efficientnet-lite1",
        "efficientnet-lite2",
        "laion-vit-b-32",
        "laion-vit-l-14",
    ]


def test_backbone_key_changes_with_settings():
    a = emb.EfficientNetLite0Backbone()
    b = emb.EfficientNetLite0Backbone(max_side=384)
    c = emb.EfficientNetLite0Backbone(architecture="efficientnet_lite0")
    assert len({a.key, b.key, c.key}) == 3
    assert a.key.startswith("efficientnet-lite0-")
    # Heads and caches made before Lite1/2 and multi-scale existed keep their key.
    assert a.key == "efficientnet-lite0-8958c5394369"
    d = emb.EfficientNetLiteBackbone("lite0", scales=2, taps=(1, 4, 6))
    assert d.key != a.key and d.settings["scales"] == 2 and d.name == "efficientnet-lite0-ms2"


def test_multi_scale_and_extra_taps_fill_every_column():
    backbone = emb.EfficientNetLiteBackbone("lite0", scales=2, taps=(1, 4, 6), threads=1)
    image = sharp_image(3, size=(200, 150))
    vectors = backbone.embed([image, blurred_image(4, size=(200, 150))])
    assert vectors.shape == (2, 2 * (1280 + 2 * (24 + 112 + 320)) + 8) == (2, backbone.dim)
    width = backbone.network_dim
    assert np.all(np.isfinite(vectors))
    # The halved view differs from the full one: the second block is its own features.
    assert not np.allclose(vectors[:, :width], vectors[:, width : 2 * width])
    # The last columns are the appearance statistics the adaptation penalises lightly.
    stats = vectors[0, list(backbone.appearance_columns)]
    assert np.allclose(stats, emb.image_statistics(image))


def test_colour_statistics_tell_warm_from_cold_light_and_grey_from_vivid():
    warm = Image.new("RGB", (64, 64), (230, 160, 90))
    cold = Image.new("RGB", (64, 64), (90, 160, 230))
    grey = Image.new("RGB", (64, 64), (128, 128, 128))
    magenta = Image.new("RGB", (64, 64), (200, 80, 200))
    w, c, g, m = (emb.colour_statistics(im) for im in (warm, cold, grey, magenta))
    assert w[0] > 0.5 > -0.5 > c[0] and g[0] == 0  # red minus blue
    assert m[1] < g[1] == 0  # green minus magenta
    assert g[2] == 0 < w[2] and abs(w[2] - 140 / 230) < 0.01  # HSV saturation


def test_stacked_backbone_joins_networks_and_adds_statistics_once():
    backbone = emb.get_backbone("efficientnet-lite0-lite2")
    lite0, lite2 = backbone.parts
    image = sharp_image(11, size=(200, 150))
    vector = backbone.embed([image])
    assert vector.shape == (1, lite0.dim + lite2.dim + 11) == (1, backbone.dim)
    np.testing.assert_allclose(vector[0, : lite0.dim], lite0.embed([image])[0], rtol=1e-5)
    stats = vector[0, list(backbone.appearance_columns)]
    np.testing.assert_allclose(stats[:8], emb.image_statistics(image), rtol=1e-5)
    np.testing.assert_allclose(stats[8:], emb.colour_statistics(image), rtol=1e-5)
    assert backbone.settings["stats"] == "stats11" and len(backbone.settings["parts"]) == 2
    assert lite0.settings["features"][-1] == "block6_mean_std"  # no statistics of its own
    with pytest.raises(ValueError, match="statistics of their own"):
        emb.StackedBackbone("x", [emb.EfficientNetLiteBackbone("lite0")], "stats11")
    sizes = [emb.EfficientNetLiteBackbone("lite0", max_side=s, stats="none") for s in (384, 512)]
    with pytest.raises(ValueError, match="one max_side"):
        emb.StackedBackbone("x", sizes, "stats11")


def _finetuned_file(path, scale: float = 1.0, drop: str = "") -> None:
    """Lite0's ImageNet tensors (no classifier), the head conv scaled: a stand-in fine-tune."""
    import torch

    model = emb.EfficientNetLiteBackbone("lite0")._build()
    state = {k: v.half() for k, v in model.state_dict().items() if not k.startswith("classif")}
    state["conv_head.weight"] = state["conv_head.weight"] * scale
    state.pop(drop, None)
    torch.save(state, path)


def test_finetuned_weights_are_laid_over_the_imagenet_ones(tmp_path, backbone):
    _finetuned_file(tmp_path / "tuned.pt", scale=0.5)
    tuned = emb.EfficientNetLiteBackbone(
        "lite0", finetuned=tmp_path / "tuned.pt", name="tuned", threads=1
    )
    image = sharp_image(12, size=(200, 150))
    plain, changed = backbone.embed([image])[0], tuned.embed([image])[0]
    # Blocks 1-6 are ImageNet's (to float16 precision); the final map is what was changed.
    block_columns = slice(1280, 1280 + 2 * (112 + 320))
    np.testing.assert_allclose(changed[block_columns], plain[block_columns], rtol=0.05, atol=0.05)
    assert not np.allclose(changed[:1280], plain[:1280], atol=1e-2)
    # The file's SHA-256 is in the settings: new weights never reuse cached vectors or heads.
    assert tuned.settings["finetuned"].startswith("tuned.pt@")
    _finetuned_file(tmp_path / "tuned.pt", scale=0.25)
    retuned = emb.EfficientNetLiteBackbone("lite0", finetuned=tmp_path / "tuned.pt", name="t")
    assert retuned.settings["finetuned"] != tuned.settings["finetuned"]
    assert "finetuned" not in backbone.settings


@pytest.mark.parametrize("problem", ["missing", "not torch", "a tensor short"])
def test_unusable_finetuned_weights_say_to_reinstall(tmp_path, problem):
    path = tmp_path / "tuned.pt"
    if problem == "not torch":
        path.write_bytes(b"<html>404</html>")
    elif problem == "a tensor short":
        _finetuned_file(path, drop="conv_head.weight")
    tuned = emb.EfficientNetLiteBackbone("lite0", finetuned=path, name="tuned")
    with pytest.raises(emb.BackboneUnavailable, match="reinstall image_ranking"):
        tuned.embed([sharp_image(13)])


def test_the_prior_networks_ship_in_the_package():
    backbone = emb.get_backbone("efficientnet-lite0-live-lite2")
    *tuned, lite2 = backbone.parts
    assert [part.finetuned for part in tuned] == list(emb.LIVE_WEIGHTS)
    assert all(path.is_file() for path in emb.LIVE_WEIGHTS)
    assert [part.name for part in tuned] == ["efficientnet-lite0-live", "efficientnet-lite0-live-2"]
    assert lite2.finetuned is None and lite2.variant == "lite2"
    image = sharp_image(14, size=(200, 150))
    vector = backbone.embed([image])
    width = tuned[0].dim
    assert width == 1280 + 2 * (24 + 40 + 80 + 112 + 192 + 320)
    assert vector.shape == (1, 2 * width + lite2.dim + 11)
    assert np.all(np.isfinite(vector))
    # Each tuned network is not ImageNet's Lite0, nor the other run: its final map has moved.
    imagenet = emb.EfficientNetLiteBackbone("lite0", taps=emb.ALL_TAPS, stats="none")
    finals = [vector[0, :1280], vector[0, width : width + 1280], imagenet.embed([image])[0, :1280]]
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert not np.allclose(finals[a], finals[b], atol=1e-2)
    assert backbone.appearance_names[-3:] == ("warm light", "green tint", "saturation")


def test_lite2_loads_its_packaged_weights():
    backbone = emb.get_backbone("efficientnet-lite2")
    vectors = backbone.embed([sharp_image(5)])
    assert vectors.shape == (1, 1280 + 2 * (120 + 352) + 8) and np.all(np.isfinite(vectors))
    assert backbone.settings["weights"] == "efficientnet-lite2-9656183e.pth"


def test_clip_backbone_uses_the_scorer_encoder_and_normalises(monkeypatch):
    calls = []

    class FakeEncoder:
        def __init__(self, model_name, pretrained):
            calls.append((model_name, pretrained))

        def embed(self, images):
            return np.array([[3.0, 4.0]] * len(images))

    module = types.ModuleType("image_ranking.scoring.clip")
    module.ClipEncoder = FakeEncoder
    monkeypatch.setitem(sys.modules, "image_ranking.scoring.clip", module)
    clip = emb.ClipBackbone("laion-vit-b-32")
    vectors = clip.embed([sharp_image(1), sharp_image(2)])
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.6, 0.8]])
    assert calls == [("ViT-B-32", "openai")]
    assert clip.settings["model"] == "ViT-B-32"


def test_clip_backbone_without_encoder_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "image_ranking.scoring.clip", None)
    with pytest.raises(emb.BackboneUnavailable, match="CLIP encoder"):
        emb.ClipBackbone("laion-vit-l-14").embed([sharp_image(1)])


# -------------------------------------------------------------------------------- cache


def test_cache_round_trip_and_atomic_files(tmp_path):
    cache = emb.EmbeddingCache(tmp_path / "emb")
    vector = np.arange(5, dtype=np.float32)
    assert cache.get("bb-1", "ab" * 32) is None
    cache.put("bb-1", "ab" * 32, vector)
    np.testing.assert_array_equal(cache.get("bb-1", "ab" * 32), vector)
    assert cache.get("bb-2", "ab" * 32) is None  # another backbone never shares vectors
    assert not list((tmp_path / "emb").rglob("*.tmp"))


def test_cache_defaults_under_cache_dir(settings, tmp_path):
    settings.IMAGE_RANKING_CACHE_DIR = str(tmp_path / "c")
    assert emb.EmbeddingCache().root == tmp_path / "c" / "embeddings"


def test_corrupt_or_pickled_cache_entry_is_ignored(tmp_path):
    cache = emb.EmbeddingCache(tmp_path)
    path = cache._path("bb", "cd" * 32)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x93NUMPY garbage")
    assert cache.get("bb", "cd" * 32) is None
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert cache.get("bb", "cd" * 32) is None  # object arrays need pickle: refused


def test_url_memory(tmp_path):
    cache = emb.EmbeddingCache(tmp_path)
    url = "https://upload.wikimedia.org/a.jpg"
    assert cache.digest_for_url(url) is None
    cache.remember_url(url, "ef" * 32)
    assert cache.digest_for_url(url) == "ef" * 32
    cache._url_path(url).write_text("not a digest")
    assert cache.digest_for_url(url) is None


class CountingBackbone(emb.Backbone):
    name = "counting"

    def __init__(self):
        self.seen = 0

    @property
    def settings(self):
        return {"v": 1}

    def embed(self, images):
        self.seen += len(images)
        return np.array([[float(image.width), float(image.height)] for image in images])


def test_embed_bytes_uses_cache_and_reports_unreadable(tmp_path):
    backbone = CountingBackbone()
    cache = emb.EmbeddingCache(tmp_path)
    blobs = [jpeg_bytes(sharp_image(1, size=(30, 20))), b"not an image", None, b""]
    progress = []
    first = emb.embed_bytes(blobs, backbone, cache, progress=lambda d, t: progress.append((d, t)))
    np.testing.assert_array_equal(first[0], [30.0, 20.0])
    assert first[1:] == [None, None, None]
    assert backbone.seen == 1
    assert progress == [(2, 2)]
    again = emb.embed_bytes(blobs[:1], backbone, cache)
    np.testing.assert_array_equal(again[0], [30.0, 20.0])
    assert backbone.seen == 1  # served from the cache, not re-encoded
