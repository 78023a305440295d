"""Helpers for the ranking tests: a deterministic scorer and files for the Commons replica.

``BrightnessScorer`` scores real image bytes by mean brightness (0-10), so a test picks
the winner by picking colours; ``add_photo`` puts a file on the loopback replica
(``tests/commons_replica.py``, the one Commons double) whose thumbnails are those exact
bytes, and ``ReplicaClients`` stands in for ``CommonsClient`` by name where a command
builds its own client: the real client, always.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageStat

# Bound at import, before any test replaces the name by a ReplicaClients.
from image_ranking.commons.client import CommonsClient
from image_ranking.exceptions import ModelWeightsMissingError
from image_ranking.scoring.base import Scorer


def jpeg(size=(1920, 1440), color=(128, 128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", quality=90)
    return out.getvalue()


def grey(level: int, size=(960, 720)) -> bytes:
    """A grey image the BrightnessScorer gives ``level / 25.5``."""
    return jpeg(size, (level, level, level))


class BrightnessScorer(Scorer):
    """Mean brightness on 0-10: deterministic, fast, and it decodes real bytes."""

    name = "test-brightness"

    def __init__(self, version: str = "1", missing_weights: bool = False) -> None:
        super().__init__()
        self._version = version
        self.missing_weights = missing_weights
        self.calls: list[int] = []

    @property
    def version(self) -> str:
        return self._version

    def _load(self) -> None:
        if self.missing_weights:
            raise ModelWeightsMissingError(
                "Model weights sac+logos+ava1-l14-linearMSE.pth are missing: run "
                "`manage.py download_models` or set IMAGE_RANKING_WEIGHTS_DIR."
            )

    def _score_batch(self, images: list[Image.Image]) -> list[float]:
        return [ImageStat.Stat(im.convert("L")).mean[0] / 25.5 for im in images]

    def score_images(self, images: Sequence[bytes]) -> list[float | None]:
        self.ensure_loaded()
        self.calls.append(len(images))
        decoded: list[Image.Image | None] = []
        for data in images:
            try:
                im = Image.open(io.BytesIO(data))
                im.load()
                decoded.append(im)
            except Exception:
                decoded.append(None)
        good = [im for im in decoded if im is not None]
        scores = iter(self._score_batch(good))
        return [None if im is None else next(scores) for im in decoded]

    @property
    def scored(self) -> int:
        return sum(self.calls)


def add_photo(replica, title: str, data: bytes | None = None, **kw):
    """A file on the loopback replica whose thumbnails are exactly ``data`` (a
    ``grey(128)`` by default), so ``BrightnessScorer`` gives it a known score. The
    original is twice the thumbnail's size, so the client fetches a scaled thumbnail at
    ``IMAGE_RANKING_RANKING_THUMBNAIL_WIDTH`` (960), never the original."""
    data = data if data is not None else grey(128)
    width, height = Image.open(io.BytesIO(data)).size
    return replica.add_file(title, size=(width * 2, height * 2), thumb_data=data, **kw)


class ReplicaClients:
    """Stands in for ``CommonsClient`` by name (``monkeypatch.setattr(client,
    "CommonsClient", clients)``) where a command or flow builds its own: it builds real
    clients, as asked, whose retries do not wait, and adds up their requests.

    ``on_search(query)`` runs before each of their searches (``gsrsearch`` string), so a
    test can interrupt a run at a chosen POI."""

    def __init__(self) -> None:
        self.built: list = []
        self.on_search = None

    def __call__(self, *args, **kwargs):
        kwargs.setdefault("sleep", lambda seconds: None)
        client = CommonsClient(*args, **kwargs)
        search = client.search

        def hooked(query, *args, **kwargs):
            if self.on_search is not None:
                self.on_search(query)
            return search(query, *args, **kwargs)

        client.search = hooked
        self.built.append(client)
        return client

    @property
    def request_count(self) -> int:
        return sum(c.request_count for c in self.built)


class FakeTime:
    """A clock (epoch seconds) that only moves when something sleeps on it."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def rank_poi_images(poi, *, threshold=None, fallback=None, dry_run=False, client=None, scorer=None):
    """Rank one POI the way a run does (a ``Ranker`` for one POI); a ``RankResult``."""
    from image_ranking.pipeline.ranker import Ranker

    ranker = Ranker(
        client=client, scorer=scorer, threshold=threshold, fallback=fallback, dry_run=dry_run
    )
    return ranker.rank(poi)


def rank_pois(pois, *, batch_size=None, **options):
    """Rank many POIs with one ``Ranker``, Wikidata look-ups batched; yields RankResults."""
    from image_ranking.pipeline.ranker import Ranker

    return Ranker(**options).rank_many(pois, batch_size=batch_size)
