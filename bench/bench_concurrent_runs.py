"""Concurrent ranking runs: requests and wall time with 1, 2 (and more) processes.

Real ``rank_poi_images`` processes share one database and the loopback Commons replica
(tests/commons_replica.py) with the brightness scorer; each city is ranked by N processes
started together. Before leases, two processes ranked every POI both (+50-70% requests,
issue 13 item 4); now they split the list.

    python bench/bench_concurrent_runs.py [--pois 40] [--processes 1 2 3]
        [--database-url postgres://...]   # default: a fresh SQLite file
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--database-url", help="An empty database (default: SQLite file).")
    args = parser.parse_args()

    replica = CommonsReplica()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
            env = cr.environment(url, replica, folder)
            cities = {f"city{n}": args.pois for n in args.processes}
            for slug in cities:
                cr.add_photos(replica, slug, args.pois)
            cr.prepare(env, cities)
            for n, slug in zip(args.processes, cities, strict=True):
                before = len(replica.requests)
                started = time.monotonic()
                results = cr.run_together(
                    env, n, "--city", slug, "--batch-size", str(args.batch_size)
                )
                elapsed = time.monotonic() - started
                ranked = [set(r["ranked"]) for r in results]
                overlap = sum(len(a & b) for i, a in enumerate(ranked) for b in ranked[i + 1 :])
                rows.append(
                    (
                        n,
                        "/".join(str(r["processed_count"]) for r in results),
                        overlap,
                        len(replica.requests) - before,
                        elapsed,
                    )
                )
    finally:
        replica.close()

    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.pois} POIs per city, batch size {args.batch_size}, {engine}")
    print(
        f"{'processes':>9}  {'POIs per process':>16}  {'ranked twice':>12}  "
        f"{'requests':>8}  {'wall s':>6}"
    )
    for n, split, overlap, requests, elapsed in rows:
        print(f"{n:>9}  {split:>16}  {overlap:>12}  {requests:>8}  {elapsed:>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
