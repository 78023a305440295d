"""Finding, fetching and checking model weights, with one clear error when they are missing.

Two kinds of files:

- LAION aesthetic heads (a few KB to 4 MB): looked up in ``IMAGE_RANKING_WEIGHTS_DIR``
  (files an operator copied by hand), then in ``<IMAGE_RANKING_CACHE_DIR>/heads``; else
  downloaded once from their public URL into that cache. Always checked by SHA-256.
- open_clip backbones (350 MB to 1.7 GB): ``<WEIGHTS_DIR>/<model>-<pretrained>.<ext>`` if
  present, else open_clip's own Hugging Face cache (``HF_HOME``), fetched there on first
  use exactly as open_clip does it.

Downloads use short connect timeouts and no retry loop: on a machine without network the
error comes at once and names the file plus ``manage.py download_models`` and
``IMAGE_RANKING_WEIGHTS_DIR``, instead of a minute of retries.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from image_ranking.conf import conf
from image_ranking.exceptions import ModelWeightsMissingError
from image_ranking.media.files import atomic_file

logger = logging.getLogger(__name__)

BACKBONE_EXTENSIONS = (".safetensors", ".bin", ".pt", ".pth")
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class HeadSpec:
    """An aesthetic head file: where it comes from and what it must hash to."""

    filename: str
    url: str
    sha256: str
    kind: str  # "linear" (LAION's sa_0_4 heads) or "mlp" (improved aesthetic predictor)
    embed_dim: int
    licence: str = ""


def fix_hint() -> str:
    return (
        "Run `python manage.py download_models` on a machine with internet access, or copy "
        "the file into the folder named by IMAGE_RANKING_WEIGHTS_DIR."
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def heads_cache_dir() -> Path:
    return conf.cache_dir / "heads"


def _checked(path: Path, spec: HeadSpec) -> Path:
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelWeightsMissingError(
            f"{path} does not match the published {spec.filename} (SHA-256 {actual[:12]}..., "
            f"expected {spec.sha256[:12]}...): the file is corrupt or another model. Delete it; "
            + fix_hint()
        )
    return path


def head_path(spec: HeadSpec, *, download: bool = True) -> Path:
    """The verified local file for ``spec``, downloading it into the cache if allowed."""
    if conf.WEIGHTS_DIR:
        candidate = Path(conf.WEIGHTS_DIR).expanduser() / spec.filename
        if candidate.is_file():
            return _checked(candidate, spec)
    cached = heads_cache_dir() / spec.filename
    if cached.is_file():
        return _checked(cached, spec)
    if not download or not spec.url:
        raise ModelWeightsMissingError(
            f"The aesthetic head {spec.filename} is not on this machine. " + fix_hint()
        )
    return download_head(spec)


def download_head(spec: HeadSpec) -> Path:
    """Fetch ``spec`` into the heads cache (atomic: a partial download never stays)."""
    import requests

    target = heads_cache_dir() / spec.filename
    logger.info("Downloading %s from %s", spec.filename, spec.url)
    digest = hashlib.sha256()
    try:
        with (
            atomic_file(target, suffix=".part") as out,
            requests.get(
                spec.url,
                stream=True,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                headers={"User-Agent": conf.USER_AGENT},
            ) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_content(1 << 16):
                digest.update(chunk)
                out.write(chunk)
            if digest.hexdigest() != spec.sha256:  # raised inside: the file is discarded
                raise ModelWeightsMissingError(
                    f"The download of {spec.filename} from {spec.url} has SHA-256 "
                    f"{digest.hexdigest()[:12]}..., not the published {spec.sha256[:12]}...; "
                    "it was discarded. " + fix_hint()
                )
    except ModelWeightsMissingError:
        raise
    except (OSError, requests.RequestException) as exc:
        from image_ranking.commons.http import network_reason

        reason = network_reason(exc) if isinstance(exc, requests.RequestException) else exc
        raise ModelWeightsMissingError(
            f"The aesthetic head {spec.filename} is not on this machine and could not be "
            f"downloaded from {spec.url} ({reason}). " + fix_hint()
        ) from None
    return target


def _hand_copied_backbone(model_name: str, pretrained: str) -> Path | None:
    if conf.WEIGHTS_DIR:
        folder = Path(conf.WEIGHTS_DIR).expanduser()
        for extension in BACKBONE_EXTENSIONS:
            candidate = folder / f"{model_name}-{pretrained}{extension}"
            if candidate.is_file():
                return candidate
    return None


def backbone_is_present(model_name: str, pretrained: str) -> bool:
    """Whether the backbone is on disk (weights dir or Hugging Face cache); no network."""
    if _hand_copied_backbone(model_name, pretrained) is not None:
        return True
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    hub = (open_clip.get_pretrained_cfg(model_name, pretrained) or {}).get("hf_hub", "")
    repo_id, filename = os.path.split(hub)
    if not repo_id:
        return False
    names = (
        [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    )
    return any(isinstance(try_to_load_from_cache(repo_id, name), str) for name in names)


def backbone_path(model_name: str, pretrained: str) -> str:
    """A local checkpoint for an open_clip ``model_name``/``pretrained`` pair."""
    hand_copied = _hand_copied_backbone(model_name, pretrained)
    if hand_copied is not None:
        return str(hand_copied)
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        raise ModelWeightsMissingError(
            f"open_clip knows no pretrained weights {pretrained!r} for {model_name}; put a "
            f"checkpoint named {model_name}-{pretrained}.safetensors (or .bin/.pt) in "
            "IMAGE_RANKING_WEIGHTS_DIR."
        )
    try:
        # Offline (HF_HUB_OFFLINE=1, or no network) this fails at once when not cached.
        path = open_clip.download_pretrained(cfg)
    except Exception as exc:  # open_clip wraps hub errors in FileNotFoundError/others
        raise ModelWeightsMissingError(
            f"The {model_name} ({pretrained}) backbone weights are not in the open_clip/"
            f"Hugging Face cache and could not be fetched ({_short(exc)}). Run `python "
            "manage.py download_models` on a machine with internet access, or put a "
            f"checkpoint named {model_name}-{pretrained}.safetensors in IMAGE_RANKING_WEIGHTS_DIR."
        ) from None
    if not path:
        raise ModelWeightsMissingError(
            f"open_clip returned no file for {model_name} ({pretrained}). " + fix_hint()
        )
    return str(path)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
