"""Benchmark (not a test): does a 10,000-POI city cost per POI what a 300-POI city does?

    .venv/bin/python bench/bench_scale.py [--sizes 300,3000,10000] [--new 0.1] [--repeat 3]

For each size, in a fresh SQLite database and media folder, generates a city whose POIs
carry a history: ten candidates each (scored, judged, with evidence), a stored image
(a real file) and its ``SelectedImage`` for most, curators' labels (two curators, some
POIs relabelled), open "no suitable image" reports for the rest, past runs and leases.
A share of POIs (``--new``) is new: in a list, no image, no candidates yet.

Then it measures:

- a ranking run (``rank_poi_images``, missing images only) over the new POIs against the
  loopback Commons replica with the budget lifted and a stand-in scorer (mean brightness:
  no model time): database queries, Wikimedia requests, wall time per POI, and the
  process's peak resident memory during the run (``VmHWM``, reset before the run);
- the review page's server CPU and wall time (medians of ``--repeat``) and query count: the grid
  (first page, sorted, searched, filtered), the queue (work first), and the admin lists.

Targets (issue 24): per-POI cost at 10,000 within 1.2x of 300; every page under 300 ms
server time on SQLite with 10,000 POIs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHILD_FLAG = "--child"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="300,3000,10000")
    parser.add_argument("--new", type=float, default=0.1, help="share of POIs never ranked")
    parser.add_argument("--repeat", type=int, default=3, help="requests per page measured")
    parser.add_argument(CHILD_FLAG, type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse()
    if args.child:
        child(args.child, args)
        return
    # One process per size: a fresh database, settings and peak-memory figure each.
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        command = [sys.executable, __file__, CHILD_FLAG, str(size), "--new", str(args.new)]
        command += ["--repeat", str(args.repeat)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(eval(out.strip().splitlines()[-1]))  # noqa: S307 (our own repr)
    report(rows)


def report(rows: list[dict]) -> None:
    base = rows[0]
    print("\nRanking run over the new POIs (missing images only), stand-in scorer:")
    print(
        "| POIs | ranked | queries/POI | requests/POI | CPU ms/POI (wall) | peak RSS MB "
        "| run's peak over its start MB | prepare ms | vs first size (CPU ms/POI) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        run = r["run"]
        print(
            f"| {r['size']:,} | {run['pois']} | {run['queries'] / run['pois']:.1f} "
            f"| {run['requests'] / run['pois']:.2f} | {run['cpu_ms'] / run['pois']:.1f} "
            f"({run['ms'] / run['pois']:.0f}) "
            f"| {run['peak_mb']:.0f} | {run['peak_mb'] - run['rss_before_mb']:.0f} "
            f"| {run['prepare_ms']:.0f} "
            f"| {per_poi(run) / per_poi(base['run']):.2f}x |"
        )
    pages = list(base["pages"])
    print(
        "\nReview pages and admin lists: server CPU ms (wall ms), medians / queries "
        "(CPU time: the machine is shared, wall time counts the other processes too):"
    )
    print("| page | " + " | ".join(f"{r['size']:,} POIs" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for page in pages:
        cells = [
            f"{r['pages'][page][2]:.0f} ({r['pages'][page][0]:.0f}) / {r['pages'][page][1]}"
            for r in rows
        ]
        print(f"| {page} | " + " | ".join(cells) + " |")
    worst = max(rows[-1]["pages"].items(), key=lambda kv: kv[1][2])
    print(
        f"\nslowest page at {rows[-1]['size']:,} POIs: {worst[0]} {worst[1][2]:.0f} ms CPU, "
        f"{worst[1][0]:.0f} ms wall (target < 300 ms)"
    )
    ratio = per_poi(rows[-1]["run"]) / per_poi(base["run"])
    qratio = (rows[-1]["run"]["queries"] / rows[-1]["run"]["pois"]) / (
        base["run"]["queries"] / base["run"]["pois"]
    )
    print(
        f"run CPU ms/POI {ratio:.2f}x, queries/POI {qratio:.2f}x of the first size (target <= 1.2x)"
    )
    print("generation (s): " + ", ".join(f"{r['size']:,}: {r['generate_s']:.0f}" for r in rows))


def per_poi(run: dict) -> float:
    return run["cpu_ms"] / run["pois"]


# ------------------------------------------------------------------ child: one size


def child(size: int, args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from bench import harness

    # Production settings: DEBUG off (no query log, no template debug), plain HTTP.
    os.environ.update(DEBUG="false", SECRET_KEY="bench-" + "x" * 60, SECURE_SSL_REDIRECT="false")
    harness.setup(f"bench-scale-{size}-")
    from tests.commons_replica import CommonsReplica
    from tests.image_ranking.ranking_helpers import BrightnessScorer

    replica = CommonsReplica()
    harness.point_at(replica, BrightnessScorer())
    started = time.perf_counter()
    new_pois = generate(size, args.new, replica)
    generate_s = time.perf_counter() - started
    run = measure_run(new_pois)
    print_sql_profile()
    pages = measure_pages(args.repeat)
    replica.close()
    print(repr({"size": size, "generate_s": generate_s, "run": run, "pages": pages}))


PHOTO_POOL: list[bytes] = []


def photo(seed: int) -> bytes:
    """A photo-like JPEG (noise and gradients, no flat background), from a small pool."""
    if not PHOTO_POOL:
        from PIL import Image

        rng = random.Random(7)
        for n in range(12):
            image = Image.effect_noise((960, 720), 40 + 4 * n).convert("RGB")
            tint = Image.new("RGB", image.size, (rng.randrange(60, 200),) * 3)
            image = Image.blend(image, tint, 0.5)
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=80)
            PHOTO_POOL.append(out.getvalue())
    return PHOTO_POOL[seed % len(PHOTO_POOL)]


def generate(size: int, new_share: float, replica) -> list[int]:
    """The city and its history; returns the new POIs' pks (served by the replica)."""
    from django.utils import timezone

    rng = random.Random(size)
    now = timezone.now()
    city, pois = _city_and_lists(size, rng)
    new_count = max(1, int(size * new_share))
    old, new = pois[new_count:], pois[:new_count]
    with_image = [p for n, p in enumerate(old) if n % 10 < 8]
    without_image = [p for n, p in enumerate(old) if n % 10 >= 8]
    first = _candidates(old, rng, now)
    _stored_images(old, with_image, first, rng, now)
    _reports(city, with_image, without_image)
    _labels(with_image)
    _past_runs(size, old, now)
    _serve_new(new, replica)
    return [p.pk for p in new]


def _city_and_lists(size: int, rng: random.Random):
    """The city, its POIs and lists of 200 POIs (every POI in one, some in two)."""
    from cities.models import City, PoiList, PointOfInterest

    city = City.objects.create(name="Scaleton", slug="scaleton", country="Nowhere")
    categories = [c for c, _ in PointOfInterest.Category.choices]
    pois = PointOfInterest.objects.bulk_create(
        PointOfInterest(
            city=city,
            name=f"Place {n:05d} {rng.choice(['Hall', 'Cafe', 'Tower', 'Garden', 'Inn'])}",
            category=categories[n % len(categories)],
            latitude=48.80 + rng.random() / 10,
            longitude=2.30 + rng.random() / 10,
            wikidata_id="",
        )
        for n in range(size)
    )
    lists = PoiList.objects.bulk_create(
        PoiList(city=city, name=f"List {n}") for n in range(max(1, size // 200))
    )
    through = PoiList.pois.through
    links = [
        through(poilist_id=lists[n % len(lists)].pk, pointofinterest_id=p.pk)
        for n, p in enumerate(pois)
    ]
    links += [
        through(poilist_id=lists[(n + 1) % len(lists)].pk, pointofinterest_id=p.pk)
        for n, p in enumerate(pois)
        if n % 7 == 0 and len(lists) > 1
    ]
    through.objects.bulk_create(links)

    return city, pois


def _candidates(old, rng: random.Random, now) -> dict[int, int]:
    """Ten candidates per old POI, scored and judged; {poi pk: its first candidate's pk}."""
    from image_ranking.models import ImageCandidate

    relevances = ["verified", "likely", "unknown", "elsewhere", "not_a_photo"]
    candidates = []
    for n, p in enumerate(old):
        # POIs without an image: every kept file scored below the threshold.
        score_range = (5.0, 8.0) if n % 10 < 8 else (1.0, 4.0)
        for k in range(10):
            title = f"File:{p.name} {k}.jpg"
            relevance = relevances[min(k // 2, 4)]
            dropped = relevance in ("elsewhere", "not_a_photo")
            candidates.append(
                ImageCandidate(
                    poi=p,
                    title=title,
                    sha1=f"{p.pk:020d}{k:020d}",
                    image_url=f"https://upload.wikimedia.org/wikipedia/commons/a/ab/{p.pk}_{k}.jpg",
                    thumbnail_url=(
                        f"https://upload.wikimedia.org/wikipedia/commons/thumb/a/ab/{p.pk}_{k}.jpg/"
                        f"960px-{p.pk}_{k}.jpg"
                    ),
                    thumbnail_width=960,
                    thumbnail_height=720,
                    page_url=f"https://commons.wikimedia.org/wiki/{title.replace(' ', '_')}",
                    width=4000,
                    height=3000,
                    mime="image/jpeg",
                    author="Jane Doe",
                    license_name=rng.choice(["CC BY-SA 4.0", "CC BY 4.0", "CC0"]),
                    license_url="https://creativecommons.org/licenses/by-sa/4.0",
                    search_rank=k,
                    categories=[f"{p.name} (Scaleton)", "Scaleton"],
                    assessments=["quality"] if k == 0 else [],
                    description=f"{p.name} seen from the street, Scaleton",
                    found_by=["name"],
                    relevance=relevance,
                    evidence=[f"category {p.name} (Scaleton)"],
                    drop="elsewhere_distance" if dropped else "",
                    drop_detail={"metres": 900_000.0} if dropped else {},
                    score=None if dropped else round(rng.uniform(*score_range), 2),
                    scorer_name="test-brightness",
                    scorer_version="1",
                    scored_at=now,
                )
            )
    ImageCandidate.objects.bulk_create(candidates, batch_size=2000)
    return dict(ImageCandidate.objects.filter(search_rank=0).values_list("poi_id", "id"))


def _stored_images(old, with_image, first, rng, now) -> None:
    """A real small file and its provenance row per POI with an image, and every old
    POI's ranking state."""
    from datetime import timedelta

    from django.core.files.storage import default_storage

    from cities.models import PointOfInterest
    from image_ranking.models import RankingState, SelectedImage

    data = photo(0)[:20_000]  # bytes on disk; the page never decodes them
    names = {}
    for p in with_image:
        names[p.pk] = f"cities/images/scaleton/{p.pk}-stored.jpg"
        default_storage.save(names[p.pk], io.BytesIO(data))
    for p in with_image:
        p.image_file = names[p.pk]
    PointOfInterest.objects.bulk_update(with_image, ["image_file"], batch_size=2000)
    SelectedImage.objects.bulk_create(
        [
            SelectedImage(
                poi=p,
                candidate_id=first.get(p.pk),
                chosen_by="ranker",
                file_name=names[p.pk],
                title=f"File:{p.name} 0.jpg",
                sha1=f"{p.pk:020d}{0:020d}",
                source_url=f"https://upload.wikimedia.org/wikipedia/commons/a/ab/{p.pk}_0.jpg",
                page_url="https://commons.wikimedia.org/wiki/File:X.jpg",
                author="Jane Doe",
                license_name="CC BY-SA 4.0",
                score=round(rng.uniform(5, 8), 2),
                scorer_name="test-brightness",
                scorer_version="1",
            )
            for p in with_image
        ],
        batch_size=2000,
    )
    RankingState.objects.bulk_create(
        [
            RankingState(
                poi=p,
                candidates_fetched_at=now - timedelta(days=2),
                ranked_at=now - timedelta(days=2),
                outcome="updated" if p in with_image else "no_image",
                message="history",
            )
            for p in old
        ],
        batch_size=2000,
    )


def _reports(city, with_image, without_image) -> None:
    """Open "no suitable image" reports for POIs without an image, resolved ones for some
    with one."""
    from cities.models import Validation
    from image_ranking import validations

    Validation.objects.bulk_create(
        [
            Validation(
                context=validations.CONTEXT,
                aggregate=validations.AGGREGATE,
                description=f"No suitable image for {p.name} (Scaleton): history.",
                city=city,
                poi=p,
                resolved=False,
            )
            for p in without_image
        ]
        + [
            Validation(
                context=validations.CONTEXT,
                aggregate=validations.AGGREGATE,
                description="resolved long ago",
                city=city,
                poi=p,
                resolved=True,
            )
            for p in with_image[::5]
        ],
        batch_size=2000,
    )


def _labels(with_image) -> None:
    """Two curators, a third of the stored images labelled, some twice."""
    from django.contrib.auth import get_user_model

    from image_ranking.models import ImageTrainingData

    user_model = get_user_model()
    curators = [
        user_model.objects.create_user(f"curator{n}", password="x", is_staff=True) for n in range(2)
    ]
    labels = []
    for n, p in enumerate(with_image):
        if n % 3:
            continue
        url = f"https://upload.wikimedia.org/wikipedia/commons/a/ab/{p.pk}_0.jpg"
        for k in range(1 + (n % 2)):
            labels.append(
                ImageTrainingData(
                    poi=p,
                    image_url=url,
                    image_label="good" if (n + k) % 4 else "bad",
                    aesthetic_score=6.0,
                    labelled_by=curators[k],
                )
            )
        labels.append(
            ImageTrainingData(
                poi=p,
                image_url=f"https://upload.wikimedia.org/wikipedia/commons/a/ab/{p.pk}_3.jpg",
                image_label="bad",
                labelled_by=curators[0],
            )
        )
    ImageTrainingData.objects.bulk_create(labels, batch_size=2000)


def _past_runs(size: int, old, now) -> None:
    """Past runs, and leases (expired) of the last one."""
    from datetime import timedelta

    from image_ranking.models import RankingLease, RankingRun

    runs = RankingRun.objects.bulk_create(
        RankingRun(
            started_at=now - timedelta(days=d),
            finished_at=now - timedelta(days=d, hours=-1),
            status="success",
            selection={"mode": "all", "city": None, "threshold": None, "fallback": None},
            total_count=size,
            counts={"updated": size // 2},
        )
        for d in range(1, 30)
    )
    RankingLease.objects.bulk_create(
        [RankingLease(poi=p, run=runs[0], expires_at=now - timedelta(days=1)) for p in old],
        batch_size=2000,
    )


def _serve_new(new, replica) -> None:
    """The new POIs: ten files each in the replica, found by their name."""
    for p in new:
        titles = []
        for k in range(10):
            title = f"File:{p.name} new {k}.jpg"
            served = replica.add_file(
                title,
                size=(4000, 3000),
                color=(60 + 15 * k, 60 + 15 * k, 60 + 15 * k),
                categories=[f"{p.name} (Scaleton)", "Scaleton"],
                description=f"{p.name}, Scaleton",
            )
            served.thumbs[960] = photo(p.pk + k)
            titles.append(title)
        replica.set_search(p.name, titles)


def measure_run(new_pois: list[int]) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from image_ranking.models import RankingRun

    count = [0]
    counter = counting(count)
    rss_before = peak_mb("VmRSS")
    reset_peak()
    started, started_cpu = time.perf_counter(), time.process_time()
    from image_ranking.management.commands.rank_poi_images import Command

    command = Command()  # the summary is read from the command (it raises when not a success)
    with connection.execute_wrapper(counter):
        call_command(command, "--missing-only", stdout=io.StringIO(), stderr=io.StringIO())
    result = command.summary
    elapsed = (time.perf_counter() - started) * 1000
    cpu = (time.process_time() - started_cpu) * 1000
    run = RankingRun.objects.order_by("-id").first()
    assert result["failed_count"] == 0, result
    # Time to the first POI: selection, resume search, orphan sweep.
    from image_ranking import runs

    began = time.perf_counter()
    runs.RankingRunner(runs.RunOptions(missing_only=False, dry_run=True)).prepare()
    prepare_ms = (time.perf_counter() - began) * 1000
    return {
        "pois": result["processed_count"],
        "updated": result["updated_count"],
        "queries": count[0],
        "requests": result["request_count"],
        "ms": elapsed,
        "cpu_ms": cpu,
        "peak_mb": peak_mb(),
        "rss_before_mb": rss_before,
        "prepare_ms": prepare_ms,
        "status": run.status if run else "",
    }


SQL_TIMES: dict[str, list[float]] = {}


def counting(count: list[int]):
    """A database execute wrapper adding one to ``count[0]`` per query (and, with
    ``BENCH_SCALE_SQL=1``, the time per statement shape, printed to stderr)."""
    profile = os.environ.get("BENCH_SCALE_SQL") == "1"

    def counter(execute, sql, params, many, context):
        count[0] += 1
        if not profile:
            return execute(sql, params, many, context)
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = re.sub(r"%s(, %s)*", "?", sql)[:300]
            SQL_TIMES.setdefault(shape, []).append(time.perf_counter() - began)

    return counter


def print_sql_profile() -> None:
    top = sorted(SQL_TIMES.items(), key=lambda kv: -sum(kv[1]))[:15]
    for shape, times in top:
        print(f"{sum(times) * 1000:8.0f} ms {len(times):6d}x  {shape}", file=sys.stderr)


def reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{os.getpid()}/clear_refs").write_text("5")


def peak_mb(field: str = "VmHWM") -> float:
    """The process's peak (or, with ``VmRSS``, current) resident memory in MB."""
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_pages(repeat: int) -> dict[str, tuple[float, int]]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from cities.models import PoiList, PointOfInterest

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = get_user_model().objects.create_superuser("admin", "a@example.org", "x")
    client = Client()
    client.force_login(user)
    some_list = PoiList.objects.order_by("pk").first().pk
    some_poi = PointOfInterest.objects.exclude(image_file="").order_by("-pk").first().pk
    pages = {
        "grid": "/review/",
        "grid page 40": "/review/?page=40",
        "grid sort=-score": "/review/?sort=-score",
        "grid sort=ranked": "/review/?sort=ranked",
        "grid search q=Tower": "/review/?q=Tower",
        "grid list + unlabelled": f"/review/?list={some_list}&labelled=no",
        "grid category=see": "/review/?category=see",
        "grid needs image": "/review/?needs_image=on",
        "grid one POI": f"/review/?poi={some_poi}",
        "grid htmx": "/review/?page=2",
        "queue (work first)": "/review/queue/",
        "queue needs image": "/review/queue/?needs_image=on",
        "queue search": "/review/queue/?q=Garden",
        "admin POIs": "/admin/cities/pointofinterest/",
        "admin POIs search": "/admin/cities/pointofinterest/?q=Tower",
        "admin validations": "/admin/cities/validation/",
        "admin lists": "/admin/cities/poilist/",
        "admin candidates": "/admin/image_ranking/imagecandidate/",
        "admin candidates search": "/admin/image_ranking/imagecandidate/?q=Garden",
        "admin selected images": "/admin/image_ranking/selectedimage/",
        "admin ranking states": "/admin/image_ranking/rankingstate/",
        "admin labels": "/admin/image_ranking/imagetrainingdata/",
        "admin runs": "/admin/image_ranking/rankingrun/",
        "admin leases": "/admin/image_ranking/rankinglease/",
    }
    prefix = review_prefix()
    results = {}
    for name, url in pages.items():
        url = url.replace("/review/", prefix, 1)
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}
        times, cpu = [], []
        for _ in range(repeat + 1):  # the first warms caches (templates, statements)
            count = [0]
            with connection.execute_wrapper(counting(count)):
                began, began_cpu = time.perf_counter(), time.process_time()
                response = client.get(url, **headers)
                times.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = count[0]
        results[name] = (statistics.median(times[1:]), queries, statistics.median(cpu[1:]))
    return results


def review_prefix() -> str:
    from django.urls import reverse

    return reverse("image_ranking:review")


if __name__ == "__main__":
    main()
