"""The aesthetic scorer: real LAION heads on LAION's reference embeddings, the full
bytes-to-score pipeline on a tiny open_clip model, weights handling and bad input."""

from __future__ import annotations

import hashlib
import http.server
import io
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from image_ranking import scoring
from image_ranking.exceptions import ModelWeightsMissingError, UnknownScorerError
from image_ranking.scoring import clip, laion, weights
from image_ranking.scoring.base import Scorer, clamp_score
from tests.conftest import shared_path
from tests.image_ranking.test_images import awkward_images, encode

LAION_DIR = ("models", "laion-aesthetic")


def reference_embeddings(backbone: str) -> np.ndarray:
    folder = shared_path(*LAION_DIR, "reference-embeddings")
    return np.concatenate([np.load(folder / f"{backbone}_rating{i}.npy") for i in range(10)])


def photo(color=(180, 120, 60), size=(320, 240), fmt="JPEG") -> bytes:
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 16):  # some structure, so images differ beyond their mean
        image.paste((color[2], color[0], color[1]), (x, 0, x + 8, size[1]))
    return encode(image, fmt)


# ---------------------------------------------------------------- real heads, real data


@pytest.mark.parametrize(
    ("backbone", "head_name"),
    [
        ("vit_b_32", "sa_0_4_vit_b_32_linear"),
        ("vit_l_14", "sac+logos+ava1-l14-linearMSE"),
        ("vit_l_14", "sa_0_4_vit_l_14_linear"),
    ],
)
def test_real_heads_rank_reference_embeddings_by_rating(backbone, head_name, settings):
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(shared_path(*LAION_DIR))
    spec = laion.HEADS[head_name]
    head = laion.AestheticHead(spec, weights.head_path(spec, download=False))
    embeddings = reference_embeddings(backbone)
    raw = head.predict(embeddings)
    assert np.all(np.diff(raw) > 0), f"scores must rise with the rating: {raw.round(2)}"
    assert raw[9] - raw[0] > 3.5
    # The head normalises: raw (unnormalised) CLIP embeddings give the same scores,
    # where a head fed them directly would give far-off values (the classic >10 bug).
    np.testing.assert_allclose(head.predict(embeddings * 7.3), raw, rtol=1e-4, atol=1e-4)
    scores = [clamp_score(v) for v in raw]
    assert all(0.0 <= s <= 10.0 for s in scores)


def test_clamp_score():
    assert clamp_score(11.3) == 10.0
    assert clamp_score(-2.5) == 0.0
    assert clamp_score(6.25) == 6.25
    assert clamp_score(float("nan")) is None
    assert clamp_score(float("inf")) is None


# ---------------------------------------------------------------- full pipeline, tiny model


def test_tiny_clip_scores_bytes_end_to_end(tiny_clip):
    blobs = [photo((200, 40, 40)), photo((40, 40, 200), fmt="PNG"), photo((30, 200, 30))]
    scores = tiny_clip.score_images(blobs)
    assert all(isinstance(s, float) and 0.0 <= s <= 10.0 for s in scores)
    assert len(set(scores)) == 3  # the model really looks at the pixels
    # Batched and one-at-a-time give the same scores.
    singles = [tiny_clip.score_image(b) for b in blobs]
    np.testing.assert_allclose(scores, singles, atol=1e-4)
    assert scoring.get_scorer() is tiny_clip  # IMAGE_RANKING_SCORER=tiny-clip
    assert scoring.get_scorer().score_images(blobs[:1]) == pytest.approx(scores[:1], abs=1e-4)


def test_model_loads_once_and_lazily(tiny_clip, monkeypatch):
    calls = []
    real = clip.load_clip
    monkeypatch.setattr(
        laion.ClipEncoder,
        "load",
        lambda self: calls.append(1) or real(self.model_name, self.pretrained, device=self.device),
    )
    fresh = type(tiny_clip)()
    assert calls == [] and fresh.encoder is None  # nothing loaded by construction
    fresh.score_images([photo()])
    fresh.score_images([photo(), photo((1, 2, 3))])
    assert len(calls) == 1 + 2  # _load once; embed() per batch hits the in-memory cache
    assert len([k for k in clip._models if k[0] == tiny_clip.model_name]) == 1


def test_int8_precision_scores_close_to_fp32_under_its_own_version(tiny_clip, settings):
    blobs = [photo((200, 40, 40)), photo((40, 40, 200)), photo((30, 200, 30))]
    reference, version = tiny_clip.score_images(blobs), tiny_clip.version
    settings.IMAGE_RANKING_PRECISION = "int8"
    fast = scoring.get_scorer()  # another configuration: another instance
    assert fast is not tiny_clip and fast.version == version + "-int8"
    np.testing.assert_allclose(fast.score_images(blobs), reference, atol=0.25)


def test_version_names_backbone_and_head(tiny_clip, tmp_path):
    assert tiny_clip.version.startswith("tiny-clip-test-None+")
    assert laion.LaionViTL14Scorer().version.startswith("ViT-L-14-openai+21dd590f3ccd")
    assert laion.LaionViTB32Scorer().version != laion.LaionViTL14Scorer().version


def test_every_bad_input_scores_none_and_never_fails_the_batch(tiny_clip, caplog):
    bomb = encode(Image.new("1", (10_000, 10_000)), "PNG")
    bad = {
        "zero": b"",
        "none": None,
        "text": b"GIF89a? no, just text",
        "truncated": photo()[:400],
        "corrupt": photo()[:200] + bytes(300) + photo()[500:],
        "bomb": bomb,
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    }
    good = awkward_images()  # CMYK, palette, alpha, 16-bit, animated, WebP, EXIF...
    names = list(bad) + list(good)
    scores = tiny_clip.score_images([*bad.values(), *good.values()])
    result = dict(zip(names, scores, strict=True))
    for name in bad:
        if name == "corrupt" and result[name] is not None:
            continue  # JPEG decoders may conceal a damaged middle: a score is fine then
        assert result[name] is None, name
    for name in good:
        assert result[name] is not None and 0.0 <= result[name] <= 10.0, name
    assert "Skipping image" in caplog.text


def test_a_backend_failing_on_one_image_spares_the_others():
    class Fussy(Scorer):
        name = "fussy"
        version = "1"

        def _load(self):
            pass

        def _score_batch(self, images):
            if any(image.size == (13, 13) for image in images):
                raise RuntimeError("shape mismatch")
            return [float(image.size[0]) / 10 for image in images]

    blobs = [photo(size=(40, 40)), encode(Image.new("RGB", (13, 13)), "PNG"), photo(size=(90, 9))]
    assert Fussy().score_images(blobs) == [4.0, None, 9.0]


# ---------------------------------------------------------------- registry


def test_registry_unknown_name_and_shared_instances(settings):
    with pytest.raises(UnknownScorerError, match="'nope'.*laion-vit-l-14"):
        scoring.get_scorer("nope")
    assert scoring.get_scorer("laion-vit-b-32") is scoring.get_scorer("laion-vit-b-32")
    assert {"laion-vit-l-14", "laion-vit-b-32", "learned"} <= set(scoring.available_scorers())


def test_importing_the_scorer_does_not_import_torch():
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "django.setup(); import sys;"
        "from image_ranking import scoring;"
        "s = scoring.get_scorer('laion-vit-l-14');"
        "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ---------------------------------------------------------------- weights


def test_missing_backbone_fails_at_once_naming_the_fix(settings):
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(shared_path(*LAION_DIR))  # heads present
    scorer = laion.LaionViTB32Scorer()
    started = time.monotonic()
    with pytest.raises(ModelWeightsMissingError) as excinfo:
        scorer.score_images([photo()])
    assert time.monotonic() - started < 15
    message = str(excinfo.value)
    assert "ViT-B-32" in message and "download_models" in message
    assert "IMAGE_RANKING_WEIGHTS_DIR" in message


def test_missing_head_unreachable_url_fails_at_once(settings, tmp_path):
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(tmp_path / "empty")
    spec = weights.HeadSpec("absent.pth", "http://127.0.0.1:9/absent.pth", "0" * 64, "linear", 4)
    started = time.monotonic()
    with pytest.raises(ModelWeightsMissingError, match=r"absent\.pth.*download_models"):
        weights.head_path(spec)
    assert time.monotonic() - started < 5
    with pytest.raises(ModelWeightsMissingError, match="not on this machine"):
        weights.head_path(spec, download=False)
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_wrong_head_file_is_refused(settings, tmp_path):
    (tmp_path / "sa_0_4_vit_b_32_linear.pth").write_bytes(b"not the LAION head")
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(tmp_path)
    with pytest.raises(ModelWeightsMissingError, match="does not match the published"):
        weights.head_path(laion.HEADS["sa_0_4_vit_b_32_linear"])


@pytest.fixture
def file_server(tmp_path):
    """Serves tmp_path/served over HTTP on 127.0.0.1."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_head_is_downloaded_once_checked_and_cached(file_server, settings):
    folder, base = file_server
    real = shared_path(*LAION_DIR, "sa_0_4_vit_b_32_linear.pth").read_bytes()
    (folder / "head.pth").write_bytes(real)
    (folder / "tampered.pth").write_bytes(b"X" + real[1:])
    spec = weights.HeadSpec(
        "head.pth", f"{base}/head.pth", hashlib.sha256(real).hexdigest(), "linear", 512
    )
    path = weights.head_path(spec)
    assert path == weights.heads_cache_dir() / "head.pth" and path.read_bytes() == real
    (folder / "head.pth").unlink()
    assert weights.head_path(spec) == path  # from the cache: no second request
    bad = weights.HeadSpec("tampered.pth", f"{base}/tampered.pth", spec.sha256, "linear", 512)
    with pytest.raises(ModelWeightsMissingError, match="discarded"):
        weights.head_path(bad)
    assert not (weights.heads_cache_dir() / "tampered.pth").exists()
    assert laion.AestheticHead(spec, path).predict(np.ones((1, 512))).shape == (1,)


def test_backbone_checkpoint_copied_by_hand_into_weights_dir(tiny_clip, settings, tmp_path):
    import torch

    from tests.scorers import TINY_MODEL

    model, preprocess = clip.load_clip(TINY_MODEL, None)
    folder = tmp_path / "by-hand"
    folder.mkdir()
    torch.save(model.state_dict(), folder / f"{TINY_MODEL}-ours.pt")
    settings.IMAGE_RANKING_WEIGHTS_DIR = str(folder)
    assert weights.backbone_path(TINY_MODEL, "ours") == str(folder / f"{TINY_MODEL}-ours.pt")
    image = Image.open(io.BytesIO(photo())).convert("RGB")
    ours = clip.ClipEncoder(TINY_MODEL, "ours").embed([image])
    original = clip.ClipEncoder(TINY_MODEL, None).embed([image])
    np.testing.assert_allclose(ours, original, atol=1e-5)
