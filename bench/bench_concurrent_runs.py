"""Concurrent ranking runs on one host: wall time and requests with 1, 2 and 3 processes.

Real ``rank_poi_images`` processes share one database and the loopback Commons replica
(tests/commons_replica.py); the N processes of a row start together on one city's list
and split it (leases). With ``--scorer quality`` they score with the bundled quality
prior (torch), and ``--threads`` compares torch thread settings: ``0`` is the default
(each run takes its share of the cores: cores / live runs on the host), a number is
what every run uses whatever runs beside it (the old default was every core).

    python bench/bench_concurrent_runs.py [--pois 40] [--processes 1 2 3]
        [--scorer quality] [--threads 0 2] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.commons_replica import CommonsReplica  # noqa: E402
from tests.image_ranking import concurrent_runs as cr  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pois", type=int, default=40)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--scorer", help="A real scorer (e.g. quality); default: brightness.")
    parser.add_argument(
        "--threads", nargs="+", default=["0"], help="IMAGE_RANKING_TORCH_THREADS values."
    )
    parser.add_argument("--database-url", help="An empty database (default: SQLite file).")
    args = parser.parse_args()

    replica = CommonsReplica()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
            env = cr.environment(url, replica, folder)
            if args.scorer:
                env["IMAGE_RANKING_SCORER"] = args.scorer
            cities = {f"city{n}t{t}": args.pois for t in args.threads for n in args.processes}
            for slug in cities:
                cr.add_photos(replica, slug, args.pois)
            cr.prepare(env, cities)
            for threads in args.threads:
                env["IMAGE_RANKING_TORCH_THREADS"] = threads
                for n in args.processes:
                    rows.append(measure(replica, env, n, f"city{n}t{threads}", args, threads))
    finally:
        replica.close()

    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{args.pois} POIs per list, batch size {args.batch_size}, {engine}, scorer "
        f"{args.scorer or 'brightness'}, {len(os.sched_getaffinity(0))} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'threads':>7}  {'processes':>9}  {'POIs per process':>16}  {'ranked twice':>12}  "
        f"{'requests':>8}  {'wall s':>6}  {'CPU s':>6}"
    )
    for threads, n, split, overlap, requests, elapsed, cpu in rows:
        print(
            f"{threads:>7}  {n:>9}  {split:>16}  {overlap:>12}  {requests:>8}  {elapsed:>6.1f}  "
            f"{cpu:>6.1f}"
        )
    return 0


def measure(replica, env, n: int, slug: str, args, threads: str) -> tuple:
    before = len(replica.requests)
    cpu_before = _children_cpu()
    started = time.monotonic()
    results = cr.run_together(env, n, "--city", slug, "--batch-size", str(args.batch_size))
    elapsed = time.monotonic() - started
    cpu = _children_cpu() - cpu_before
    ranked = [set(r["ranked"]) for r in results]
    overlap = sum(len(a & b) for i, a in enumerate(ranked) for b in ranked[i + 1 :])
    split = "/".join(str(r["processed_count"]) for r in results)
    label = "auto" if threads == "0" else threads
    return label, n, split, overlap, len(replica.requests) - before, elapsed, cpu


def _children_cpu() -> float:
    """CPU seconds of the ended worker processes (less sensitive to other load on the
    machine than wall time; threads spinning on busy cores show up here)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
