"""Benchmark (not a test): the curator's loop, labels in the queue's order vs a random one,
and what applying a new head to a cached city costs.

    nice -n 10 .venv/bin/python bench/bench_curator_loop.py [--tastes vivid ...] [--folds 5]

Part 1. Simulated curators with the tastes of ``bench_learn_taste.py`` (vivid, daylight,
warm, scenery: technical quality plus a preference the prior does not have) work through
POIs made of LIVE photos (``--per-poi`` photos each, from the four fifths of an outer
5-fold the prior was trained on; the ridge prior on frozen ``efficientnet-lite0`` vectors).
At each step the next POI is the one ``learning.uncertainty.informativeness`` puts first
(the queue's order: close top candidates, a winner near the threshold, the prior and the
adapted head disagreeing) or a random one. The curator labels the POI's current image
(the head's winner) good or bad by the taste (above or below its median); after "bad" they
use the candidate they like best (one more label, and preferences over the others shown,
as the review page records them). The head is re-adapted (``adaptation.adapt``) every
``--every`` labels. Printed: held-out Spearman of the head against the taste on the test
fifth (photos nobody labelled) at 20/50/100 labels, averaged over the outer folds.

Part 2. A 60-POI city (five LIVE photos per POI served by the loopback Commons replica)
is ranked by head A (the prior); head B (adapted to a taste) is then previewed and applied
over the cached candidates with the real client: requests per POI, and whether the
preview's list equals the POIs whose image applying changed.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness  # noqa: E402

WORK = harness.setup("bench-curator-loop-")

from scipy.stats import spearmanr  # noqa: E402

from bench.bench_learn_taste import ridge_folds, scenery, warmth, zscore  # noqa: E402
from bench.clive import CLIVE, OUT, embed_clive, load_clive  # noqa: E402
from image_ranking.learning import adaptation, fitting  # noqa: E402
from image_ranking.learning.uncertainty import informativeness  # noqa: E402
from image_ranking.scoring import embeddings as emb  # noqa: E402
from image_ranking.scoring.heads import save_head  # noqa: E402

SIZES = (20, 50, 100)
THRESHOLD = 5.0
SHOWN = 8  # alternatives a "use this image" beats (learning/examples.py SHOWN_ALTERNATIVES)


def tastes(X, mos, paths, appearance: range, wanted: set[str]) -> dict[str, np.ndarray]:
    """``bench_learn_taste.tastes``, computing only the ones asked for (scenery is slow)."""
    stats = X[:, list(appearance)]
    made = {
        "vivid": lambda: zscore(mos) + zscore(stats[:, 5]),
        "daylight": lambda: zscore(mos) + zscore(stats[:, 3]),
        "warm": lambda: zscore(mos) + zscore(warmth(paths)),
        "scenery": lambda: zscore(mos) + zscore(scenery(paths)),
    }
    return {name: make() for name, make in made.items() if name in wanted}


class Curator:
    """One simulated curator's session over POIs of the training photos."""

    def __init__(self, fold, taste, good, per_poi, light, rng) -> None:
        self.X, self.prior, self.taste, self.good, self.light = (
            fold.X,
            fold.prior,
            taste,
            good,
            light,
        )
        photos = rng.permutation(fold.train)
        count = len(photos) // per_poi
        self.pois = [photos[i * per_poi : (i + 1) * per_poi] for i in range(count)]
        self.head = self.prior
        self.adapted = False
        self.rows: list[int] = []  # photo indices with a label or in a pair
        self.labels: dict[int, int] = {}
        self.pairs: list[tuple[int, int]] = []
        self.visited: set[int] = set()
        self.spent = 0

    def scores(self, head, poi: int) -> np.ndarray:
        return head.scores(self.X[self.pois[poi]])

    def next_poi(self, order: str, rng) -> int:
        waiting = [p for p in range(len(self.pois)) if p not in self.visited]
        if order == "random":
            return int(rng.choice(waiting))
        best, best_value = waiting[0], -1.0
        for poi in waiting:
            other = self.scores(self.prior, poi) if self.adapted else None
            value, _why = informativeness(list(self.scores(self.head, poi)), THRESHOLD, other)
            if value > best_value:
                best, best_value = poi, value
        return best

    def visit(self, poi: int, budget: int) -> None:
        """Label the current image; after "bad", use the best-liked one (if budget allows)."""
        self.visited.add(poi)
        photos = self.pois[poi]
        current = int(photos[int(np.argmax(self.scores(self.head, poi)))])
        self.labels[current] = int(self.good[current])
        self.spent += 1
        if self.good[current] or self.spent >= budget:
            return
        chosen = int(photos[int(np.argmax(self.taste[photos]))])
        if chosen == current:
            return
        self.spent += 1
        others = [int(p) for p in photos if p != chosen][:SHOWN]
        self.pairs.extend((chosen, other) for other in others)

    def retrain(self) -> None:
        rows = sorted({*self.labels, *(i for pair in self.pairs for i in pair)})
        position = {row: n for n, row in enumerate(rows)}
        labels = np.array([self.labels.get(row, -1) for row in rows])
        if not (np.any(labels == 1) and np.any(labels == 0)) and not self.pairs:
            return
        pairs = np.array([(position[a], position[b]) for a, b in self.pairs]).reshape(-1, 2)
        poi_of = {int(p): n for n, photos in enumerate(self.pois) for p in photos}
        groups = np.array([str(poi_of[row]) for row in rows])
        prefs = adaptation.Preferences(self.X[rows], labels, pairs, groups)
        self.head = adaptation.adapt(self.prior, prefs, light_columns=self.light).head
        self.adapted = True


def session(fold, taste, order, args, light, seed) -> dict[int, float]:
    """Held-out Spearman against the taste after each size in ``SIZES``."""
    rng = np.random.default_rng(seed)
    good = (taste > np.median(taste[fold.train])).astype(int)
    curator = Curator(fold, taste, good, args.per_poi, light, rng)
    results: dict[int, float] = {}
    next_retrain = args.every
    for size in SIZES:
        while curator.spent < size:
            curator.visit(curator.next_poi(order, rng), size)
            if curator.spent >= next_retrain and curator.spent < size:
                curator.retrain()
                next_retrain = curator.spent + args.every
        curator.retrain()
        next_retrain = curator.spent + args.every
        test = fold.test
        results[size] = float(spearmanr(curator.head.decision(fold.X[test]), taste[test])[0])
    return results


def part_one(args, X, mos, all_tastes, backbone) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # many small fits: BLAS threads only contend on 2 shared cores
    folds = ridge_folds(X, mos, 0)[: args.folds]
    header = "| taste | order | prior | " + " | ".join(f"{n} labels" for n in SIZES) + " |"
    lines = [header, "|---|---|---|" + "---|" * len(SIZES)]
    verdicts = []
    for name in args.tastes:
        taste = all_tastes[name]
        prior = np.mean([spearmanr(f.prior.decision(X[f.test]), taste[f.test])[0] for f in folds])
        means = {}
        for order in ("queue", "random"):
            started = time.perf_counter()
            runs = [
                session(f, taste, order, args, backbone.appearance_columns, 100 * k + draw)
                for k, f in enumerate(folds)
                for draw in range(args.draws)
            ]
            means[order] = {n: float(np.mean([r[n] for r in runs])) for n in SIZES}
            cells = " | ".join(f"{means[order][n]:.3f}" for n in SIZES)
            lines.append(f"| {name} | {order} | {prior:.3f} | {cells} |")
            print(lines[-1], f"({time.perf_counter() - started:.0f}s)", flush=True)
        ok = means["queue"][50] >= means["random"][100]
        verdicts.append(
            f"{name}: queue@50 {means['queue'][50]:.3f} vs random@100 "
            f"{means['random'][100]:.3f} -> {'met' if ok else 'NOT met'}"
        )
    print()
    print("\n".join(lines))
    print("\n".join(verdicts))


# ------------------------------------------------------------------- part 2: budget


def city(replica, paths, photos_per_poi: int, count: int, rng) -> list:
    from cities.models import City, PoiList, PointOfInterest

    paris = City.objects.create(name="Paris", slug="paris")
    plist = PoiList.objects.create(city=paris, name="Essentials")
    chosen = rng.choice(len(paths), size=count * photos_per_poi, replace=False)
    pois = []
    for n in range(count):
        name = f"Place {n:02d}"
        poi = PointOfInterest.objects.create(city=paris, name=name, category="see")
        plist.pois.add(poi)
        titles = []
        for k in range(photos_per_poi):
            index = int(chosen[n * photos_per_poi + k])
            title = f"File:{name} view {k}.jpg"
            added = replica.add_file(title, size=(2000, 2000), color=(n, k, index % 256))
            added.thumbs[960] = paths[index].read_bytes()  # a real photo as its thumbnail
            titles.append(title)
        replica.set_search(name, titles)
        pois.append(poi)
    return pois


def part_two(args, X, mos, paths, taste, backbone) -> None:
    from django.conf import settings
    from django.core.management import call_command

    from image_ranking.learning import heads, preview
    from image_ranking.models import SelectedImage
    from image_ranking.ranking import Ranker
    from tests.commons_replica import CommonsReplica

    replica = CommonsReplica()
    settings.IMAGE_RANKING_COMMONS_API_URL = replica.api_url
    settings.IMAGE_RANKING_WIKIDATA_API_URL = replica.wikidata_url
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1", replica.thumb_host]
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 10_000_000.0  # count requests, not hours
    settings.IMAGE_RANKING_RATE_LIMIT_BURST = 10_000
    settings.IMAGE_RANKING_CACHE_DIR = str(WORK / "cache")
    # The photos' vectors were computed above (keyed by content, the same bytes are served
    # as thumbnails): the first ranking need not compute them again. Requests unchanged.
    (WORK / "cache").mkdir()
    (WORK / "cache" / "embeddings").symlink_to(args.cache.resolve())
    settings.IMAGE_RANKING_SCORER = "learned"
    settings.IMAGE_RANKING_SCORE_THRESHOLD = 3.0
    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(7)
    pois = city(replica, paths, 5, args.city_pois, rng)
    # Head A: the prior (ridge on MOS); head B: A adapted to the "vivid" taste, 100 labels.
    a = fitting.fit_head(X, list(mos), "score", backbone.name, backbone.settings)
    rows = rng.choice(len(X), size=100, replace=False)
    good = (taste > np.median(taste)).astype(int)[rows]
    b = adaptation.adapt(
        a, adaptation.Preferences(X[rows], good), light_columns=backbone.appearance_columns
    ).head
    b.metadata.update(cv_concordance=1.0, prior_cv_concordance=0.0)
    for head, name in ((a, "a"), (b, "b")):
        save_head(head, WORK / f"head-{name}.json")
    head_a = heads.register(WORK / "head-a.json")
    head_b = heads.register(WORK / "head-b.json")
    heads.activate(head_a, force=True)
    ranker = Ranker()
    started = time.perf_counter()
    first = [ranker.rank(poi) for poi in pois]
    first_requests = sum(r.requests for r in first)
    print(
        f"\n{len(pois)} POIs ranked with head A: {first_requests} requests "
        f"({first_requests / len(pois):.2f} per POI), "
        f"{sum(r.outcome == 'updated' for r in first)} stored "
        f"({time.perf_counter() - started:.0f}s)"
    )
    # Before: without the thumbnail cache (as before this loop existed), re-deciding with
    # head B downloads the thumbnails again. A dry run: nothing is stored.
    settings.IMAGE_RANKING_THUMBNAIL_CACHE = False
    before = len(replica.requests)
    uncached = preview.plan(head_b, pois, client=ranker.client)
    spent = len(replica.requests) - before
    print(
        f"head B preview without the thumbnail cache: {spent} requests "
        f"({spent / len(pois):.2f} per POI), {len(uncached.changes)} POIs would change"
    )
    settings.IMAGE_RANKING_THUMBNAIL_CACHE = True
    before = len(replica.requests)
    planned = preview.plan(head_b, pois, client=ranker.client)
    old = dict(SelectedImage.objects.values_list("poi_id", "sha1"))
    applied = preview.apply(head_b, pois, client=ranker.client)
    new = dict(SelectedImage.objects.values_list("poi_id", "sha1"))
    spent = len(replica.requests) - before
    changed = {pk for pk in new if old.get(pk) != new[pk]}
    print(
        f"head B preview + apply (real client): {spent} requests "
        f"({spent / len(pois):.2f} per POI; target <= 0.1); preview lists "
        f"{len(planned.changes)} POIs, applying changed {len(changed)}; "
        f"equal: {planned.poi_ids == changed == applied.poi_ids}; skipped {len(planned.skipped)}"
    )
    replica.close()
    call_command("heads", "list", stdout=io.StringIO())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clive", type=Path, default=CLIVE)
    parser.add_argument("--cache", type=Path, default=OUT / "cache")
    parser.add_argument("--tastes", nargs="+", default=["vivid", "daylight", "warm", "scenery"])
    parser.add_argument("--folds", type=int, default=5, help="Outer folds used (of 5).")
    parser.add_argument(
        "--draws", type=int, default=3, help="Sessions per fold (POIs and order drawn anew)."
    )
    parser.add_argument("--per-poi", type=int, default=4, help="Candidate photos per POI.")
    parser.add_argument("--every", type=int, default=10, help="Labels between re-adaptations.")
    parser.add_argument("--city-pois", type=int, default=60)
    parser.add_argument("--skip", choices=["loop", "budget"], help="Leave out one part.")
    parser.add_argument(
        "--weights",
        help="Try other weights of the queue's signals, e.g. close=1,threshold=0,disagree=1.5",
    )
    args = parser.parse_args()
    if args.weights:
        from image_ranking.learning import uncertainty

        for item in args.weights.split(","):
            name, value = item.split("=")
            uncertainty.WEIGHTS[name] = float(value)
        print(f"weights: {uncertainty.WEIGHTS}")
    paths, mos = load_clive(args.clive)
    backbone = emb.get_backbone("efficientnet-lite0")
    X = embed_clive(paths, backbone, emb.EmbeddingCache(args.cache))
    wanted = set(args.tastes) | {"vivid"}
    all_tastes = tastes(X, mos, paths, backbone.appearance_columns, wanted)
    if args.skip != "loop":
        part_one(args, X, mos, all_tastes, backbone)
    if args.skip != "budget":
        part_two(args, X, mos, paths, all_tastes["vivid"], backbone)


if __name__ == "__main__":
    main()
