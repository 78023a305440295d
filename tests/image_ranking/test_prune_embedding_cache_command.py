from __future__ import annotations

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from image_ranking.scoring import embeddings as emb


@pytest.fixture
def cache(settings, tmp_path):
    settings.IMAGE_RANKING_CACHE_DIR = str(tmp_path)
    cache = emb.EmbeddingCache()
    current = emb.get_backbone("efficientnet-lite0").key
    cache.put(current, "ab" * 32, np.ones(3))
    cache.put("efficientnet-lite0-live-lite2-000000000000", "cd" * 32, np.ones(5000))
    cache.remember_url("https://upload.wikimedia.org/a.jpg", "ab" * 32)
    return cache, current


def test_deletes_only_folders_of_backbone_versions_no_longer_computed(cache, capsys):
    cache, current = cache
    call_command("prune_embedding_cache")
    out = capsys.readouterr().out
    assert "efficientnet-lite0-live-lite2-000000000000" in out and "Deleted 1 stale" in out
    assert not (cache.root / "efficientnet-lite0-live-lite2-000000000000").exists()
    assert cache.get(current, "ab" * 32) is not None
    assert cache.digest_for_url("https://upload.wikimedia.org/a.jpg") == "ab" * 32


def test_dry_run_deletes_nothing(cache, capsys):
    cache, _ = cache
    call_command("prune_embedding_cache", "--dry-run")
    assert "Would delete 1 stale folder(s) (20128 bytes)" in capsys.readouterr().out
    assert cache.get("efficientnet-lite0-live-lite2-000000000000", "cd" * 32) is not None


def test_an_unreadable_backbone_stops_it_before_anything_is_deleted(cache, monkeypatch):
    cache, _ = cache

    def unavailable():
        raise emb.BackboneUnavailable("efficientnet-lite0-live.pt cannot be read")

    monkeypatch.setattr(emb, "current_keys", unavailable)
    with pytest.raises(CommandError, match="Cannot tell which cached vectors are current"):
        call_command("prune_embedding_cache")
    assert cache.get("efficientnet-lite0-live-lite2-000000000000", "cd" * 32) is not None
